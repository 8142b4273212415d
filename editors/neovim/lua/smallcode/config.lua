-- Options of the SmallCode plugin: defaults and merging. Server settings (`settings.smallcode`)
-- use the server's own dotted camelCase names and are passed through untouched.
local M = {}

--- Neovim filetypes of the languages the server indexes (smallcode_lsp/index/languages.py).
M.filetypes = {
  "python",
  "javascript",
  "javascriptreact",
  "typescript",
  "typescriptreact",
  "go",
  "rust",
  "java",
  "c",
  "cpp",
}

M.root_markers = {
  ".git",
  ".hg",
  "pyproject.toml",
  "setup.py",
  "setup.cfg",
  "package.json",
  "tsconfig.json",
  "go.mod",
  "Cargo.toml",
  "pom.xml",
  "build.gradle",
  "CMakeLists.txt",
  "Makefile",
}

M.defaults = {
  -- The LSP client's name (`:LspInfo`, `vim.lsp.get_clients({ name = ... })`).
  name = "smallcode",
  -- How to start the server; e.g. { "/path/to/venv/bin/smallcode-lsp", "--log-file", "/tmp/sc.log" }.
  cmd = { "smallcode-lsp" },
  -- Extra environment for the server process (e.g. { SMALLCODE_CACHE_DIR = "/tmp/sc" }).
  cmd_env = nil,
  -- Filetypes to attach to; "*" attaches to every file buffer.
  filetypes = M.filetypes,
  root_markers = M.root_markers,
  -- Server settings, e.g. { smallcode = { model = { path = "~/models/qwen2.5-coder-1.5b.gguf" } } }.
  -- Sent as `workspace/didChangeConfiguration` and answered to `workspace/configuration`.
  settings = {},
  -- initializationOptions; nil = `settings.smallcode`, so the first model load already uses them.
  init_options = nil,
  capabilities = nil,
  on_attach = nil, -- function(client, bufnr), called after SmallCode's own attach
  -- Register the server with vim.lsp.config/vim.lsp.enable (0.11+) or vim.lsp.start (0.10).
  -- false: only define the commands and ghost text; start the client yourself.
  enable = true,

  ghost = {
    enabled = true,
    -- "auto": the built-in vim.lsp.inline_completion on Neovim 0.12+, else this plugin's extmarks.
    -- "builtin" | "extmark" force one of them.
    renderer = "auto",
    auto_trigger = true, -- request as you type; false: only on `trigger` (keymap or function)
    debounce_ms = 50, -- quiet time after a keystroke before asking (the server paces as well)
    hl_group = "SmallCodeGhost", -- linked to Comment unless your colorscheme defines it
    hide_during_completion = true, -- no ghost text while the popup menu is visible
  },

  -- Insert-mode keymaps; false disables one. Nothing here takes <Tab> unless accept_with_tab is set.
  keymaps = {
    accept = "<M-l>",
    accept_word = "<M-w>",
    accept_line = "<M-j>",
    dismiss = "<C-]>",
    trigger = "<M-\\>",
    next = "<M-]>", -- built-in renderer only: cycle candidates
    prev = "<M-[>",
  },
  -- <Tab> accepts a visible suggestion and otherwise does whatever <Tab> did before (insert a tab,
  -- another plugin's mapping).
  accept_with_tab = false,

  commands = {
    status_border = "rounded",
    open_generated_tests = true, -- open the test file that :SmallCodeGenerateTests wrote to
  },
}

local function is_list(value)
  return type(value) == "table" and vim.islist(value) and next(value) ~= nil
end

--- Deep merge in which lists (cmd, filetypes, root_markers) replace, never interleave.
local function merge(base, override)
  if type(base) ~= "table" or type(override) ~= "table" or is_list(base) or is_list(override) then
    if override == nil then
      return vim.deepcopy(base)
    end
    return vim.deepcopy(override)
  end
  local out = vim.deepcopy(base)
  for key, value in pairs(override) do
    if key == "settings" or key == "init_options" or key == "capabilities" then
      out[key] = vim.deepcopy(value)
    else
      out[key] = merge(base[key], value)
    end
  end
  return out
end

---@param opts table|nil
---@return table
function M.resolve(opts)
  opts = opts or {}
  if type(opts) ~= "table" then
    error("smallcode.setup: expected a table of options, got " .. type(opts))
  end
  local cfg = merge(M.defaults, opts)
  if type(cfg.cmd) == "string" then
    cfg.cmd = { cfg.cmd }
  end
  if type(cfg.cmd) ~= "table" and type(cfg.cmd) ~= "function" then
    error("smallcode: `cmd` must be a list such as { 'smallcode-lsp' }")
  end
  if cfg.filetypes == "*" or cfg.filetypes == false then
    cfg.filetypes = nil
  end
  if opts.keymaps == false then
    cfg.keymaps = {}
  end
  if opts.ghost == false then
    cfg.ghost = vim.tbl_extend("force", vim.deepcopy(M.defaults.ghost), { enabled = false })
  end
  for _, group in ipairs({ "ghost", "keymaps", "commands" }) do
    if type(cfg[group]) ~= "table" then
      cfg[group] = vim.deepcopy(M.defaults[group])
    end
  end
  return cfg
end

M.merge = merge

return M
