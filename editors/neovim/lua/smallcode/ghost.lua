-- Ghost text for Neovim 0.10/0.11: `textDocument/inlineCompletion` answers drawn as extmarks.
--
-- The first line of a suggestion is virtual text at the cursor (inline when text follows the
-- cursor, overlay at the end of a line), the other lines are virtual lines below. Requests are
-- debounced while typing, the previous one is cancelled, and answers that arrive after the buffer
-- or the cursor moved on are dropped (changedtick + cursor). Typing the next characters of the
-- suggestion keeps it; anything else clears it, as do moving the cursor, leaving insert mode and
-- leaving the buffer. Neovim 0.12+ has this built in (vim.lsp.inline_completion); see init.lua.
local util = require("smallcode.util")

local api = vim.api
local uv = vim.uv or vim.loop

local M = {}

M.ns = api.nvim_create_namespace("smallcode.ghost")

local INVOKED, AUTOMATIC = 1, 2
M.trigger_kind = { invoked = INVOKED, automatic = AUTOMATIC }

local opts = {
  enabled = true,
  auto_trigger = true,
  debounce_ms = 50,
  hl_group = "SmallCodeGhost",
  hide_during_completion = true,
}

---@type table<integer, table>
local buffers = {}

function M.configure(new)
  opts = vim.tbl_extend("force", opts, new or {})
end

local function resolve(bufnr)
  if bufnr == nil or bufnr == 0 then
    return api.nvim_get_current_buf()
  end
  return bufnr
end

local function insert_mode()
  return vim.fn.mode():sub(1, 1) == "i"
end

local function get_line(bufnr, row)
  return api.nvim_buf_get_lines(bufnr, row, row + 1, false)[1] or ""
end

--- (row, col) of the cursor, both 0-based, col in bytes.
local function cursor(win)
  local pos = api.nvim_win_get_cursor(win)
  return pos[1] - 1, pos[2]
end

--- The window showing `bufnr` that has the focus, or nil.
local function focused_window(bufnr)
  local win = api.nvim_get_current_win()
  if api.nvim_win_get_buf(win) == bufnr then
    return win
  end
  return nil
end

-- ------------------------------------------------------------------ snippets

--- Plain text of an LSP snippet: tabstops vanish, placeholders keep their text, choices their
--- first option, unknown variables their default (or nothing), `\` escapes are undone.
---@param snippet string
---@return string
function M.snippet_text(snippet)
  local s, pos = snippet, 1

  local function parse(in_braces)
    local out = {}
    while pos <= #s do
      local ch = s:sub(pos, pos)
      if ch == "\\" and pos < #s then
        out[#out + 1] = s:sub(pos + 1, pos + 1)
        pos = pos + 2
      elseif ch == "}" and in_braces then
        return table.concat(out)
      elseif ch == "$" then
        local after = s:sub(pos + 1, pos + 1)
        local number = s:match("^%d+", pos + 1)
        local name = (not number) and s:match("^[%a_][%w_]*", pos + 1)
        if number or name then
          pos = pos + 1 + #(number or name)
        elseif after == "{" then
          pos = pos + 2
          local id = s:match("^%d+", pos) or s:match("^[%a_][%w_]*", pos)
          if not id then
            out[#out + 1] = "${"
          else
            pos = pos + #id
            local sep = s:sub(pos, pos)
            if sep == ":" then
              pos = pos + 1
              out[#out + 1] = parse(true)
              pos = pos + 1 -- the closing brace
            elseif sep == "|" then
              local choices = s:match("^|(.-)|}", pos)
              if choices then
                out[#out + 1] = (choices:match("^(.-[^\\]),") or choices):gsub("\\(.)", "%1")
                pos = pos + #choices + 3
              end
            elseif sep == "}" then
              pos = pos + 1
            else -- a transform (${1/regex/format/}): keep nothing of it
              local close = s:find("}", pos, true)
              pos = (close or #s) + 1
            end
          end
        else
          out[#out + 1] = "$"
          pos = pos + 1
        end
      else
        out[#out + 1] = ch
        pos = pos + 1
      end
    end
    return table.concat(out)
  end

  return parse(false)
end

-- ------------------------------------------------------------------ state

local function new_state(bufnr, client_id)
  return {
    bufnr = bufnr,
    client_id = client_id,
    seq = 0, -- bumps with every request and reset: answers to older ones are ignored
    pending = nil, -- { client_id, id, seq } of the request in flight
    timer = nil,
    suggestion = nil,
    extmark = nil,
    last_error = nil,
    stats = {
      requests = 0,
      automatic = 0,
      responses = 0,
      stale = 0,
      empty = 0,
      shown = 0,
      accepted = 0,
      partial = 0,
      dismissed = 0,
      errors = 0,
    },
  }
end

local function clear(state)
  if api.nvim_buf_is_valid(state.bufnr) then
    api.nvim_buf_clear_namespace(state.bufnr, M.ns, 0, -1)
  end
  state.suggestion = nil
  state.extmark = nil
end

local function cancel_pending(state)
  state.seq = state.seq + 1
  local pending = state.pending
  state.pending = nil
  if pending then
    local client = vim.lsp.get_client_by_id(pending.client_id)
    if client then
      pcall(util.cancel_request, client, pending.id)
    end
  end
end

local function stop_timer(state)
  if state.timer then
    state.timer:stop()
  end
end

--- Clear the ghost text, stop the debounce timer and cancel the request in flight.
local function reset(state)
  stop_timer(state)
  cancel_pending(state)
  clear(state)
end

-- ------------------------------------------------------------------ drawing

local function render(state)
  local bufnr, s = state.bufnr, state.suggestion
  if api.nvim_buf_is_valid(bufnr) then
    api.nvim_buf_clear_namespace(bufnr, M.ns, 0, -1)
  end
  state.extmark = nil
  if not s or not api.nvim_buf_is_valid(bufnr) then
    return false
  end
  if opts.hide_during_completion and vim.fn.pumvisible() == 1 then
    return false
  end
  local hl = opts.hl_group
  local lines = vim.split(s.visible, "\n", { plain = true })
  local first = lines[1]
  -- A single-line suggestion that ends with the text it replaces (the server's suffix overlap,
  -- e.g. a closing bracket already after the cursor) shows only what is new: the buffer's own
  -- text completes the picture.
  if #lines == 1 and s.replace ~= "" and not s.replace:find("\n", 1, true) then
    if vim.endswith(first, s.replace) then
      first = first:sub(1, #first - #s.replace)
    end
  end
  local mark = { hl_mode = "combine", priority = 1000 }
  if first ~= "" then
    mark.virt_text = { { first, hl } }
    -- Inline virtual text pushes the rest of the line to the right; at the end of a line an
    -- overlay draws the same and keeps the cursor in front of the suggestion.
    local text_follows = s.col < #s.line
    mark.virt_text_pos = (text_follows and util.has("0.10")) and "inline" or "overlay"
  end
  if #lines > 1 then
    mark.virt_lines = {}
    for i = 2, #lines do
      mark.virt_lines[#mark.virt_lines + 1] = { { lines[i], hl } }
    end
  end
  if not mark.virt_text and not mark.virt_lines then
    return false
  end
  state.extmark = api.nvim_buf_set_extmark(bufnr, M.ns, s.row, s.col, mark)
  return true
end

--- Where `item` goes in the buffer, as a suggestion at the cursor (row, col), or nil when it does
--- not apply there (range elsewhere, or it disagrees with what was typed since its range start).
local function place(bufnr, item, encoding, row, col, line)
  local text, snippet
  local insert = item.insertText
  if type(insert) == "table" and type(insert.value) == "string" then -- StringValue (a snippet)
    snippet = insert.value
    text = M.snippet_text(snippet)
  elseif type(insert) == "string" then
    text = insert
  else
    return nil
  end
  text = text:gsub("\r\n", "\n")
  local srow, scol, erow, ecol = row, col, row, col
  local range = item.range
  if type(range) == "table" and range.start and range["end"] then
    srow, erow = range.start.line, range["end"].line
    scol = util.byte_col(srow == row and line or get_line(bufnr, srow), range.start.character, encoding)
    ecol = util.byte_col(erow == row and line or get_line(bufnr, erow), range["end"].character, encoding)
  end
  if srow ~= row or scol > col or erow < row or (erow == row and ecol < col) then
    return nil
  end
  if erow >= api.nvim_buf_line_count(bufnr) then
    return nil
  end
  -- The range may start before the cursor (the word being typed): that part must match.
  local typed = line:sub(scol + 1, col)
  if text:sub(1, #typed) ~= typed then
    return nil
  end
  local visible = text:sub(#typed + 1)
  if visible == "" then
    return nil
  end
  local replace = table.concat(api.nvim_buf_get_text(bufnr, row, col, erow, ecol, {}), "\n")
  return {
    row = row,
    col = col,
    line = line,
    visible = visible, -- what accepting inserts at the cursor
    replace = replace, -- buffer text right after the cursor that accepting replaces
    tick = api.nvim_buf_get_changedtick(bufnr),
    snippet = snippet and { value = snippet, start_col = scol } or nil,
    command = item.command,
  }
end

-- ------------------------------------------------------------------ attaching

local on_text_changed, on_cursor_moved, show_result

local function ensure_state(bufnr, client_id)
  local state = buffers[bufnr]
  if state then
    if client_id then
      state.client_id = client_id
    end
    return state
  end
  state = new_state(bufnr, client_id)
  buffers[bufnr] = state
  local group = api.nvim_create_augroup("smallcode.ghost." .. bufnr, { clear = true })
  state.augroup = group
  api.nvim_create_autocmd("TextChangedI", {
    group = group,
    buffer = bufnr,
    callback = function()
      on_text_changed(state)
    end,
  })
  api.nvim_create_autocmd({ "CursorMovedI", "CursorMoved" }, {
    group = group,
    buffer = bufnr,
    callback = function(args)
      on_cursor_moved(state, args.event == "CursorMovedI")
    end,
  })
  api.nvim_create_autocmd({ "InsertLeave", "BufLeave", "ModeChanged" }, {
    group = group,
    buffer = bufnr,
    callback = function()
      reset(state)
    end,
  })
  api.nvim_create_autocmd("CompleteChanged", {
    group = group,
    buffer = bufnr,
    callback = function()
      if opts.hide_during_completion and state.extmark then
        api.nvim_buf_clear_namespace(bufnr, M.ns, 0, -1)
        state.extmark = nil
      end
    end,
  })
  api.nvim_create_autocmd("CompleteDone", {
    group = group,
    buffer = bufnr,
    callback = function()
      -- The menu closed without changing the text (e.g. <C-e>): show the suggestion again.
      local s = state.suggestion
      if s and not state.extmark and api.nvim_buf_get_changedtick(bufnr) == s.tick then
        vim.schedule(function()
          if state.suggestion == s and vim.fn.pumvisible() == 0 then
            render(state)
          end
        end)
      end
    end,
  })
  api.nvim_create_autocmd({ "BufUnload", "BufWipeout" }, {
    group = group,
    buffer = bufnr,
    callback = function()
      M.detach(bufnr)
    end,
  })
  return state
end

--- Start ghost text in `bufnr` for the LSP client `client` (a client object or id).
function M.attach(bufnr, client)
  bufnr = resolve(bufnr)
  local client_id = type(client) == "table" and client.id or client
  ensure_state(bufnr, client_id)
end

function M.detach(bufnr)
  bufnr = resolve(bufnr)
  local state = buffers[bufnr]
  if not state then
    return
  end
  reset(state)
  if state.timer then
    state.timer:stop()
    if not state.timer:is_closing() then
      state.timer:close()
    end
    state.timer = nil
  end
  pcall(api.nvim_del_augroup_by_id, state.augroup)
  buffers[bufnr] = nil
end

function M.is_attached(bufnr)
  return buffers[resolve(bufnr)] ~= nil
end

-- ------------------------------------------------------------------ requests

local function request(state, kind)
  local bufnr = state.bufnr
  if not opts.enabled or not state.client_id then
    return false
  end
  local client = vim.lsp.get_client_by_id(state.client_id)
  if not client or not client.server_capabilities then
    return false
  end
  if not client.server_capabilities.inlineCompletionProvider then
    return false
  end
  local win = focused_window(bufnr)
  if not win then
    return false
  end
  cancel_pending(state)
  local row, col = cursor(win)
  local line = get_line(bufnr, row)
  local encoding = client.offset_encoding or "utf-16"
  local params = {
    textDocument = { uri = vim.uri_from_bufnr(bufnr) },
    position = { line = row, character = util.char_col(line, col, encoding) },
    context = { triggerKind = kind },
  }
  local tick = api.nvim_buf_get_changedtick(bufnr)
  state.seq = state.seq + 1
  local seq = state.seq
  state.stats.requests = state.stats.requests + 1
  state.last_request = { row = row, col = col, kind = kind }
  if kind == AUTOMATIC then
    state.stats.automatic = state.stats.automatic + 1
  end
  local ok, id = util.request(client, "textDocument/inlineCompletion", params, function(err, result)
    if state.pending and state.pending.seq == seq then
      state.pending = nil
    end
    if buffers[bufnr] ~= state or seq ~= state.seq then
      return -- superseded or reset: the answer is for a text that is gone
    end
    if err then
      state.stats.errors = state.stats.errors + 1
      state.last_error = err
      return
    end
    state.stats.responses = state.stats.responses + 1
    local now = focused_window(bufnr)
    local stale = not api.nvim_buf_is_valid(bufnr)
      or api.nvim_buf_get_changedtick(bufnr) ~= tick
      or not now
      or (kind == AUTOMATIC and not insert_mode())
    if not stale then
      local r, c = cursor(now)
      stale = r ~= row or c ~= col
    end
    if stale then
      state.stats.stale = state.stats.stale + 1
      return
    end
    show_result(state, result, encoding)
  end, bufnr)
  if ok and id then
    state.pending = { client_id = client.id, id = id, seq = seq, row = row, col = col, tick = tick }
  end
  return ok and true or false
end

--- The request in flight was made for exactly this text and cursor (an event that changed
--- nothing, such as CursorMovedI right after InsertEnter, must not cancel it).
local function pending_still_valid(state)
  local pending = state.pending
  if not pending or api.nvim_buf_get_changedtick(state.bufnr) ~= pending.tick then
    return false
  end
  local win = focused_window(state.bufnr)
  if not win then
    return false
  end
  local row, col = cursor(win)
  return row == pending.row and col == pending.col
end

local function schedule_auto(state)
  if not (opts.enabled and opts.auto_trigger and state.client_id) then
    return
  end
  if pending_still_valid(state) then
    return
  end
  cancel_pending(state) -- its answer would be for the text before this keystroke
  if not state.timer then
    state.timer = uv.new_timer()
  end
  state.timer:stop()
  state.timer:start(
    opts.debounce_ms,
    0,
    vim.schedule_wrap(function()
      if buffers[state.bufnr] == state and insert_mode() and focused_window(state.bufnr) then
        request(state, AUTOMATIC)
      end
    end)
  )
end

--- The user typed the next characters of the suggestion: keep the rest of it on screen.
local function typed_through(state)
  local s, bufnr = state.suggestion, state.bufnr
  local win = focused_window(bufnr)
  if not win then
    return false
  end
  local row, col = cursor(win)
  if row ~= s.row or col <= s.col then
    return false
  end
  local line = get_line(bufnr, row)
  local typed = line:sub(s.col + 1, col)
  if line ~= s.line:sub(1, s.col) .. typed .. s.line:sub(s.col + 1) then
    return false
  end
  if s.visible:sub(1, #typed) ~= typed or #typed >= #s.visible then
    return false
  end
  s.visible = s.visible:sub(#typed + 1)
  s.col, s.line = col, line
  s.tick = api.nvim_buf_get_changedtick(bufnr)
  s.snippet = nil
  return render(state)
end

on_text_changed = function(state)
  local s = state.suggestion
  if s then
    if api.nvim_buf_get_changedtick(state.bufnr) == s.tick then
      return -- our own edit (a partial accept)
    end
    if typed_through(state) then
      return
    end
    clear(state)
  end
  schedule_auto(state)
end

on_cursor_moved = function(state, in_insert)
  local s = state.suggestion
  if s then
    local tick = api.nvim_buf_get_changedtick(state.bufnr)
    if tick ~= s.tick then
      return -- typing: TextChangedI comes next and decides
    end
    local win = focused_window(state.bufnr)
    if win then
      local row, col = cursor(win)
      if row == s.row and col == s.col then
        return
      end
    end
    clear(state)
  end
  if in_insert then
    schedule_auto(state)
  end
end

-- ------------------------------------------------------------------ public API

--- Draw the first item of `result` that applies at the cursor.
show_result = function(state, result, encoding)
  local bufnr = state.bufnr
  clear(state)
  local win = focused_window(bufnr)
  local items = type(result) == "table" and (result.items or result) or {}
  if not win or type(items) ~= "table" then
    return false
  end
  local row, col = cursor(win)
  local line = get_line(bufnr, row)
  for _, item in ipairs(items) do
    local suggestion = place(bufnr, item, encoding or "utf-16", row, col, line)
    if suggestion then
      state.suggestion = suggestion
      render(state)
      state.stats.shown = state.stats.shown + 1
      return true
    end
  end
  state.stats.empty = state.stats.empty + 1
  return false
end

--- Draw an `InlineCompletionList` (or a list of items) for the cursor position in `bufnr`, as if
--- the server had answered it: the first item that applies there. `encoding` is the position
--- encoding of the items' ranges. A request in flight is cancelled. Returns whether it shows.
---@return boolean shown
function M.show(bufnr, result, encoding)
  bufnr = resolve(bufnr)
  local state = ensure_state(bufnr, nil)
  stop_timer(state)
  cancel_pending(state)
  return show_result(state, result, encoding)
end

--- Ask for a suggestion at the cursor now (no debounce). Returns whether a request was sent.
function M.trigger(bufnr)
  bufnr = resolve(bufnr)
  local state = buffers[bufnr]
  if not state then
    return false
  end
  stop_timer(state)
  clear(state)
  return request(state, INVOKED)
end

--- Whether a suggestion is on screen in `bufnr`.
function M.visible(bufnr)
  local state = buffers[resolve(bufnr)]
  return state ~= nil and state.suggestion ~= nil and state.extmark ~= nil
end

--- The current suggestion: { row, col (0-based, bytes), text (what accepting inserts), replace }.
function M.get(bufnr)
  local state = buffers[resolve(bufnr)]
  local s = state and state.suggestion
  if not s then
    return nil
  end
  return { row = s.row, col = s.col, text = s.visible, replace = s.replace, snippet = s.snippet ~= nil }
end

function M.stats(bufnr)
  local state = buffers[resolve(bufnr)]
  if not state then
    return nil
  end
  local out = vim.deepcopy(state.stats)
  out.pending = state.pending ~= nil
  out.last_request = state.last_request
  out.last_error = state.last_error
  return out
end

--- The next piece of `text` for a partial accept: a word (with the blanks before it, or a run of
--- punctuation), or the rest of the line; at a line break, the break and the next line's indent
--- (word) or the whole next line (line). Multibyte characters are never split.
function M.next_chunk(text, kind)
  if text:sub(1, 1) == "\n" then
    if kind == "line" then
      local stop = text:find("\n", 2, true)
      return stop and text:sub(1, stop - 1) or text
    end
    return "\n" .. text:match("^\n([ \t]*)")
  end
  if kind == "line" then
    local stop = text:find("\n", 1, true)
    return stop and text:sub(1, stop - 1) or text
  end
  return text:match("^[ \t]*[%w_\128-\255]+")
    or text:match("^[ \t]*[^%w_\128-\255%s]+")
    or text:match("^[ \t]+")
    or text:sub(1, 1)
end

local function execute_item_command(state, command)
  local client = state.client_id and vim.lsp.get_client_by_id(state.client_id)
  if not client or type(command) ~= "table" or not command.command then
    return
  end
  util.request(client, "workspace/executeCommand", {
    command = command.command,
    arguments = command.arguments,
  }, function() end, state.bufnr)
end

local function accept_all(state, win)
  local bufnr, s = state.bufnr, state.suggestion
  clear(state)
  local replaced = vim.split(s.replace, "\n", { plain = true })
  local end_row = s.row + #replaced - 1
  local end_col = (#replaced == 1 and s.col or 0) + #replaced[#replaced]
  if s.snippet and vim.snippet and vim.snippet.expand then
    -- The snippet covers the item's whole range, including what was typed since its start.
    api.nvim_buf_set_text(bufnr, s.row, s.snippet.start_col, end_row, end_col, { "" })
    api.nvim_win_set_cursor(win, { s.row + 1, s.snippet.start_col })
    vim.snippet.expand(s.snippet.value)
  else
    local lines = vim.split(s.visible, "\n", { plain = true })
    api.nvim_buf_set_text(bufnr, s.row, s.col, end_row, end_col, lines)
    local row = s.row + #lines - 1
    local col = (#lines == 1 and s.col or 0) + #lines[#lines]
    api.nvim_win_set_cursor(win, { row + 1, col })
  end
  state.stats.accepted = state.stats.accepted + 1
  if s.command then
    execute_item_command(state, s.command)
  end
  return true
end

--- Accept the suggestion: kind "all" (default), "word" or "line". Returns false when there is
--- nothing to accept at the cursor (so a keymap can fall back to the key's usual meaning).
function M.accept(kind, bufnr)
  kind = kind or "all"
  bufnr = resolve(bufnr)
  local state = buffers[bufnr]
  local s = state and state.suggestion
  if not s then
    return false
  end
  local win = focused_window(bufnr)
  if not win then
    return false
  end
  local row, col = cursor(win)
  if row ~= s.row or col ~= s.col or api.nvim_buf_get_changedtick(bufnr) ~= s.tick then
    clear(state)
    return false
  end
  local chunk = kind == "all" and s.visible or M.next_chunk(s.visible, kind)
  if chunk == s.visible or chunk == "" then
    return accept_all(state, win)
  end
  local lines = vim.split(chunk, "\n", { plain = true })
  api.nvim_buf_set_text(bufnr, row, col, row, col, lines)
  local new_row = row + #lines - 1
  local new_col = (#lines == 1 and col or 0) + #lines[#lines]
  api.nvim_win_set_cursor(win, { new_row + 1, new_col })
  s.visible = s.visible:sub(#chunk + 1)
  s.row, s.col = new_row, new_col
  s.line = get_line(bufnr, new_row)
  s.tick = api.nvim_buf_get_changedtick(bufnr)
  s.snippet = nil
  state.stats.partial = state.stats.partial + 1
  render(state)
  return true
end

--- Hide the suggestion and cancel the request in flight. Returns whether one was visible.
function M.dismiss(bufnr)
  local state = buffers[resolve(bufnr)]
  if not state then
    return false
  end
  local had = state.suggestion ~= nil
  reset(state)
  if had then
    state.stats.dismissed = state.stats.dismissed + 1
  end
  return had
end

--- Turn ghost text on or off everywhere (`nil` toggles). Returns the new state.
function M.enable(enabled)
  if enabled == nil then
    enabled = not opts.enabled
  end
  opts.enabled = enabled and true or false
  if not opts.enabled then
    for _, state in pairs(buffers) do
      reset(state)
    end
  end
  return opts.enabled
end

function M.is_enabled()
  return opts.enabled
end

return M
