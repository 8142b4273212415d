/**
 * The `smallcode` settings section: which keys go to the server, and in what shape.
 * No `vscode` import, so it runs under plain `node --test`.
 */

export const SECTION = 'smallcode';

/**
 * Keys this extension reads itself. The server does not know them (it would warn "unknown setting"
 * on every update), so they are never sent.
 */
export const EDITOR_ONLY_KEYS: readonly string[] = ['server.path', 'server.args', 'trace.server'];

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

/** The subset of VS Code's `WorkspaceConfiguration.inspect()` result used here. */
export interface Inspected {
  defaultValue?: unknown;
  globalValue?: unknown;
  workspaceValue?: unknown;
  workspaceFolderValue?: unknown;
}

/** Every `smallcode.*` property a manifest (package.json) contributes, without the prefix. */
export function contributedKeys(manifest: unknown): string[] {
  const configuration = (manifest as { contributes?: { configuration?: unknown } } | undefined)?.contributes
    ?.configuration;
  const blocks = Array.isArray(configuration) ? configuration : configuration ? [configuration] : [];
  const prefix = `${SECTION}.`;
  const keys: string[] = [];
  for (const block of blocks) {
    const properties = (block as { properties?: Record<string, unknown> }).properties ?? {};
    for (const name of Object.keys(properties)) {
      if (name.startsWith(prefix)) {
        keys.push(name.slice(prefix.length));
      }
    }
  }
  return keys;
}

/** The contributed keys the server understands (everything but the editor-only ones). */
export function serverSettingKeys(manifest: unknown): string[] {
  return contributedKeys(manifest).filter((key) => !EDITOR_ONLY_KEYS.includes(key));
}

/** The value the user chose, most specific scope first; `undefined` when only the default applies. */
export function explicitValue(inspected: Inspected | undefined): unknown {
  if (!inspected) {
    return undefined;
  }
  for (const value of [inspected.workspaceFolderValue, inspected.workspaceValue, inspected.globalValue]) {
    if (value !== undefined) {
      return value;
    }
  }
  return undefined;
}

/** A plain JSON copy: VS Code hands out frozen proxies, and `undefined` is not JSON. */
export function toJson(value: unknown): Json {
  if (value === undefined) {
    return null;
  }
  return JSON.parse(JSON.stringify(value)) as Json;
}

/**
 * `{"model.path": x}` -> `{model: {path: x}}`: the nested shape VS Code uses for a section, and one
 * the server's `config.flatten` accepts.
 */
export function nest(flat: Record<string, Json>): JsonObject {
  const root: JsonObject = {};
  for (const [dotted, value] of Object.entries(flat)) {
    const parts = dotted.split('.');
    let node = root;
    for (const part of parts.slice(0, -1)) {
      const child = node[part];
      if (child === null || typeof child !== 'object' || Array.isArray(child)) {
        node[part] = {};
      }
      node = node[part] as JsonObject;
    }
    node[parts[parts.length - 1]] = value;
  }
  return root;
}

/**
 * What the server is sent, as `initializationOptions`, as the answer to its `workspace/configuration`
 * pull and in `workspace/didChangeConfiguration`.
 *
 * Only values the user set are sent. The server layers defaults < `[tool.smallcode]` in the project's
 * pyproject.toml < editor settings, so sending VS Code's defaults for every key would silently
 * override the project's file. A key set earlier in this session and since removed is sent with its
 * default: the server overlays each update on its current settings and would otherwise keep the
 * stale value.
 */
export class ServerSettings {
  private readonly everSent = new Set<string>();

  constructor(readonly keys: readonly string[]) {}

  payload(inspect: (key: string) => Inspected | undefined): JsonObject {
    const flat: Record<string, Json> = {};
    for (const key of this.keys) {
      const inspected = inspect(key);
      const value = explicitValue(inspected);
      if (value !== undefined) {
        flat[key] = toJson(value);
        this.everSent.add(key);
      } else if (this.everSent.has(key)) {
        flat[key] = toJson(inspected?.defaultValue);
      }
    }
    return nest(flat);
  }
}

/** Editor settings that choose the server process: changing one restarts it. */
export const RESTART_SETTINGS: readonly string[] = [`${SECTION}.server.path`, `${SECTION}.server.args`];
