-- Insert-mode keymaps for suggestions, buffer-local to the buffers SmallCode is attached to.
-- Each key does its SmallCode action when there is something to act on and otherwise whatever it
-- did before (another plugin's mapping, or the key itself): SmallCode never swallows a key.
local M = {}

local api = vim.api

-- bufnr -> lhs -> the mapping found before SmallCode's first one (false: none), so attaching
-- again (a second setup(), a restarted client) keeps the original fallback.
local saved = {}

--- The insert-mode mapping of `lhs` in `bufnr` before SmallCode's (buffer-local first), or nil.
local function previous_mapping(lhs, bufnr)
  local map
  api.nvim_buf_call(bufnr, function()
    local ok, found = pcall(vim.fn.maparg, lhs, "i", false, true)
    map = ok and found or nil
  end)
  if type(map) ~= "table" or next(map) == nil then
    return nil
  end
  if type(map.desc) == "string" and map.desc:find("^SmallCode") then
    return nil -- our own, from an earlier attach
  end
  return map
end

local function feed(keys, remap)
  if keys == nil or keys == "" then
    return
  end
  -- "i": in front of whatever is already typed ahead, so the order of keys is kept.
  api.nvim_feedkeys(keys, remap and "im" or "in", false)
end

local function termcodes(keys)
  return api.nvim_replace_termcodes(keys, true, true, true)
end

--- Do what `lhs` did before SmallCode mapped it.
local function fallback(previous, lhs)
  if not previous then
    -- An unmapped Alt key in insert mode is <Esc> plus the key: it would leave insert mode, which
    -- nobody pressing "accept" wants. Other keys (<Tab>, <C-]>) keep their built-in meaning.
    if not lhs:upper():match("^<[MA]%-") then
      feed(termcodes(lhs), false)
    end
    return
  end
  local remap = previous.noremap ~= 1
  if previous.callback then
    local result = previous.callback()
    if previous.expr == 1 and type(result) == "string" then
      if previous.replace_keycodes == 1 or previous.replace_keycodes == true then
        result = termcodes(result)
      end
      feed(result, remap)
    end
    return
  end
  local rhs = previous.rhs or ""
  if previous.expr == 1 then
    local ok, evaluated = pcall(api.nvim_eval, rhs)
    feed(ok and type(evaluated) == "string" and evaluated or "", remap)
    return
  end
  rhs = termcodes(rhs)
  local own = termcodes(lhs)
  if remap and vim.startswith(rhs, own) then
    -- As Vim does for `imap x x...`: the leading key itself is not mapped again.
    feed(rhs:sub(#own + 1), true)
    feed(own, false)
    return
  end
  feed(rhs, remap)
end

--- Map `lhs` in insert mode in `bufnr`: `action()` returns true when it did something.
local function map(bufnr, lhs, desc, action)
  if type(lhs) ~= "string" or lhs == "" then
    return
  end
  saved[bufnr] = saved[bufnr] or {}
  if saved[bufnr][lhs] == nil then
    saved[bufnr][lhs] = previous_mapping(lhs, bufnr) or false
  end
  local previous = saved[bufnr][lhs] or nil
  vim.keymap.set("i", lhs, function()
    if not action() then
      fallback(previous, lhs)
    end
  end, { buffer = bufnr, silent = true, desc = "SmallCode: " .. desc })
end

--- Actions of the extmark renderer (0.10/0.11, or renderer = "extmark").
local function extmark_actions(bufnr)
  local ghost = require("smallcode.ghost")
  return {
    accept = function()
      return ghost.accept("all", bufnr)
    end,
    accept_word = function()
      return ghost.accept("word", bufnr)
    end,
    accept_line = function()
      return ghost.accept("line", bufnr)
    end,
    dismiss = function()
      return ghost.dismiss(bufnr)
    end,
    trigger = function()
      return ghost.trigger(bufnr)
    end,
  }
end

--- Actions of the built-in renderer (vim.lsp.inline_completion, Neovim 0.12+). It has no partial
--- accept or dismiss, so those keys keep their usual meaning there.
local function builtin_actions(bufnr)
  local inline = vim.lsp.inline_completion
  return {
    accept = function()
      local ok, accepted = pcall(inline.get, { bufnr = bufnr })
      return ok and accepted ~= false
    end,
    next = function()
      return (pcall(inline.select, { bufnr = bufnr, count = 1 }))
    end,
    prev = function()
      return (pcall(inline.select, { bufnr = bufnr, count = -1 }))
    end,
  }
end

local DESCRIPTIONS = {
  accept = "accept suggestion",
  accept_word = "accept next word of suggestion",
  accept_line = "accept next line of suggestion",
  dismiss = "dismiss suggestion",
  trigger = "ask for a suggestion",
  next = "next suggestion",
  prev = "previous suggestion",
}

--- Set the configured keymaps in `bufnr` for `renderer` ("extmark" or "builtin").
function M.attach(bufnr, cfg, renderer)
  if not saved.cleanup then
    saved.cleanup = true
    api.nvim_create_autocmd("BufWipeout", {
      group = api.nvim_create_augroup("smallcode.keymaps", { clear = true }),
      callback = function(args)
        saved[args.buf] = nil
      end,
    })
  end
  local actions = renderer == "builtin" and builtin_actions(bufnr) or extmark_actions(bufnr)
  local keys = cfg.keymaps or {}
  for name, desc in pairs(DESCRIPTIONS) do
    if actions[name] then
      map(bufnr, keys[name], desc, actions[name])
    end
  end
  if cfg.accept_with_tab and keys.accept ~= "<Tab>" then
    map(bufnr, "<Tab>", "accept suggestion, else <Tab>", actions.accept)
  end
end

--- <Plug> mappings, for people who bind keys themselves (keymaps = false).
function M.define_plug_mappings()
  local ghost = require("smallcode.ghost")
  local plugs = {
    ["<Plug>(smallcode-accept)"] = function()
      ghost.accept("all")
    end,
    ["<Plug>(smallcode-accept-word)"] = function()
      ghost.accept("word")
    end,
    ["<Plug>(smallcode-accept-line)"] = function()
      ghost.accept("line")
    end,
    ["<Plug>(smallcode-dismiss)"] = function()
      ghost.dismiss()
    end,
    ["<Plug>(smallcode-trigger)"] = function()
      ghost.trigger()
    end,
  }
  for lhs, fn in pairs(plugs) do
    vim.keymap.set("i", lhs, fn, { silent = true, desc = "SmallCode" })
  end
end

M._fallback = fallback

return M
