-- :checkhealth smallcode
local M = {}

function M.check()
  local health = vim.health
  local util = require("smallcode.util")
  local smallcode = require("smallcode")
  local cfg = smallcode.config()

  health.start("SmallCode")
  local version = vim.version()
  local text = ("%d.%d.%d"):format(version.major, version.minor, version.patch)
  if not util.has("0.10") then
    health.error("Neovim " .. text .. " is too old: SmallCode needs 0.10 or newer")
  else
    health.ok("Neovim " .. text)
  end

  local cmd = cfg.cmd
  if type(cmd) == "table" and cmd[1] then
    if vim.fn.executable(cmd[1]) == 1 then
      health.ok(("server command: %s (%s)"):format(table.concat(cmd, " "), vim.fn.exepath(cmd[1])))
    else
      health.error(
        ("server command not found: %s"):format(cmd[1]),
        { "pip install smallcode-lsp, or set `cmd` to the full path of smallcode-lsp in its venv" }
      )
    end
  end

  local renderer = smallcode.renderer(cfg)
  local how = {
    builtin = "built-in vim.lsp.inline_completion (Neovim 0.12+)",
    extmark = "SmallCode's extmark renderer",
    off = "ghost text is off",
  }
  health.info("ghost text: " .. how[renderer])

  local model = vim.tbl_get(cfg, "settings", "smallcode", "model", "path")
  if model then
    local path = vim.fn.expand(model)
    if vim.fn.filereadable(path) == 1 then
      health.ok("model.path: " .. path)
    else
      health.error("model.path does not exist: " .. path)
    end
  else
    health.info("model.path not set: the server uses its packaged default model")
  end

  local clients = util.clients(cfg.name, nil)
  if #clients == 0 then
    health.warn("no SmallCode client is running (open a file of a supported filetype)")
    return
  end
  for _, client in ipairs(clients) do
    local status, err = smallcode.status({ bufnr = next(client.attached_buffers or {}) or 0 })
    if status then
      local model_state = vim.tbl_get(status, "model", "state") or "?"
      local index = status.index or {}
      health.ok(
        ("client %d: model %s, index %s (%s files)"):format(
          client.id,
          model_state,
          index.state or "?",
          index.files or 0
        )
      )
    else
      health.warn(("client %d: status failed: %s"):format(client.id, vim.inspect(err)))
    end
  end
end

return M
