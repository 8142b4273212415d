-- SmallCode for Neovim: registers the SmallCode language server and shows its inline completions
-- as ghost text.
--
--   require("smallcode").setup({
--     settings = { smallcode = { model = { path = "~/models/qwen2.5-coder-1.5b-q8_0.gguf" } } },
--   })
--
-- Neovim 0.11+: the server is registered with vim.lsp.config/vim.lsp.enable; 0.10 uses
-- vim.lsp.start on FileType. Ghost text: the built-in vim.lsp.inline_completion on 0.12+, this
-- plugin's extmark renderer (smallcode.ghost) before that. See :help smallcode.
local config = require("smallcode.config")
local util = require("smallcode.util")

local api = vim.api

local M = {}

M.version = "0.1.0"

local current = nil -- the resolved options of the last setup()
local group = nil

--- The options in effect (the defaults until setup() runs).
function M.config()
  return current or config.resolve({})
end

local function has_builtin_inline_completion()
  local ok, inline = pcall(function()
    return vim.lsp.inline_completion
  end)
  return ok and type(inline) == "table" and type(inline.enable) == "function"
end

--- Which ghost-text renderer the options pick on this Neovim: "builtin", "extmark" or "off".
function M.renderer(cfg)
  cfg = cfg or M.config()
  if not cfg.ghost or cfg.ghost.enabled == false then
    return "off"
  end
  local want = cfg.ghost.renderer or "auto"
  if want == "extmark" then
    return "extmark"
  end
  if has_builtin_inline_completion() then
    return "builtin"
  end
  return "extmark"
end

local function define_highlights()
  api.nvim_set_hl(0, "SmallCodeGhost", { link = "Comment", default = true })
end

--- Client capabilities: Neovim's own plus inline completion (the server registers it statically).
local function capabilities(cfg)
  local base = vim.lsp.protocol.make_client_capabilities()
  local ours = { textDocument = { inlineCompletion = { dynamicRegistration = false } } }
  return vim.tbl_deep_extend("force", base, ours, cfg.capabilities or {})
end

--- The LSP client configuration (for vim.lsp.config / vim.lsp.start).
function M.lsp_config(cfg)
  cfg = cfg or M.config()
  local settings = cfg.settings or {}
  local init_options = cfg.init_options
  if init_options == nil then
    init_options = settings.smallcode or {}
  end
  return {
    cmd = cfg.cmd,
    cmd_env = cfg.cmd_env,
    filetypes = cfg.filetypes,
    root_markers = cfg.root_markers,
    settings = util.as_objects(settings),
    init_options = util.as_objects(init_options),
    capabilities = capabilities(cfg),
    on_attach = cfg.on_attach,
  }
end

--- Ghost text and keymaps for a buffer the SmallCode client attached to.
local function on_attach(client, bufnr)
  local cfg = M.config()
  local renderer = M.renderer(cfg)
  if renderer == "builtin" then
    local ok, err = pcall(vim.lsp.inline_completion.enable, true, { bufnr = bufnr })
    if not ok then
      util.notify("built-in inline completion failed (" .. tostring(err) .. "); using extmarks")
      renderer = "extmark"
    end
  end
  if renderer == "extmark" then
    require("smallcode.ghost").attach(bufnr, client)
  end
  if renderer ~= "off" then
    require("smallcode.keymaps").attach(bufnr, cfg, renderer)
  end
  vim.b[bufnr].smallcode_renderer = renderer
end

--- Start (or reuse) the client for `bufnr` on Neovim 0.10, which has no vim.lsp.enable.
local function start_legacy(bufnr, cfg)
  if not api.nvim_buf_is_valid(bufnr) or vim.bo[bufnr].buftype ~= "" then
    return
  end
  if cfg.filetypes and not vim.tbl_contains(cfg.filetypes, vim.bo[bufnr].filetype) then
    return
  end
  local lsp_cfg = M.lsp_config(cfg)
  lsp_cfg.name = cfg.name
  lsp_cfg.root_dir = vim.fs.root(bufnr, cfg.root_markers or {})
  lsp_cfg.filetypes = nil
  lsp_cfg.root_markers = nil
  vim.lsp.start(lsp_cfg, { bufnr = bufnr })
end

local function register(cfg)
  if vim.lsp.config and vim.lsp.enable then
    vim.lsp.config(cfg.name, M.lsp_config(cfg))
    vim.lsp.enable(cfg.name)
    return
  end
  api.nvim_create_autocmd("FileType", {
    group = group,
    pattern = cfg.filetypes or "*",
    callback = function(args)
      start_legacy(args.buf, cfg)
    end,
  })
  for _, bufnr in ipairs(api.nvim_list_bufs()) do
    if api.nvim_buf_is_loaded(bufnr) and vim.bo[bufnr].filetype ~= "" then
      start_legacy(bufnr, cfg)
    end
  end
end

---@param opts table|nil see :help smallcode-options
function M.setup(opts)
  if not util.has("0.10") then
    util.notify("needs Neovim 0.10 or newer", vim.log.levels.ERROR)
    return
  end
  local cfg = config.resolve(opts)
  current = cfg
  define_highlights()
  require("smallcode.ghost").configure({
    enabled = cfg.ghost.enabled ~= false,
    auto_trigger = cfg.ghost.auto_trigger,
    debounce_ms = cfg.ghost.debounce_ms,
    hl_group = cfg.ghost.hl_group,
    hide_during_completion = cfg.ghost.hide_during_completion,
  })
  require("smallcode.commands").create()
  require("smallcode.keymaps").define_plug_mappings()

  group = api.nvim_create_augroup("smallcode", { clear = true })
  api.nvim_create_autocmd("ColorScheme", { group = group, callback = define_highlights })
  api.nvim_create_autocmd("LspAttach", {
    group = group,
    callback = function(args)
      local client = vim.lsp.get_client_by_id(args.data and args.data.client_id or -1)
      if client and client.name == cfg.name then
        on_attach(client, args.buf)
      end
    end,
  })
  api.nvim_create_autocmd("LspDetach", {
    group = group,
    callback = function(args)
      local client = vim.lsp.get_client_by_id(args.data and args.data.client_id or -1)
      if client and client.name == cfg.name then
        require("smallcode.ghost").detach(args.buf)
      end
    end,
  })
  -- Buffers the client already attached to before this setup() (e.g. setup called twice).
  for _, client in ipairs(util.clients(cfg.name, nil)) do
    for bufnr in pairs(client.attached_buffers or {}) do
      on_attach(client, bufnr)
    end
  end
  if cfg.enable ~= false then
    register(cfg)
  end
end

--- Turn ghost text on or off (`nil` toggles); returns the new state.
function M.toggle(enabled)
  local ghost = require("smallcode.ghost")
  local on = ghost.enable(enabled)
  if M.renderer() == "builtin" then
    pcall(vim.lsp.inline_completion.enable, on)
  end
  return on
end

-- Commands, also callable from Lua.
function M.status(opts)
  return require("smallcode.commands").status(opts)
end

function M.show_status(opts)
  return require("smallcode.commands").show_status(opts)
end

function M.fix(opts)
  return require("smallcode.commands").fix(opts)
end

function M.generate_tests(opts)
  return require("smallcode.commands").generate_tests(opts)
end

function M.reindex(opts)
  return require("smallcode.commands").reindex(opts)
end

return M
