-- End-to-end driver for the SmallCode Neovim plugin, run inside `nvim --headless` by
-- tests/test_editor_neovim.py (which writes the init.lua that calls setup()).
--
-- It opens a file of the fixture workspace with the real server and the tiny test model, asks for
-- a suggestion in insert mode, reads the extmark that shows it, accepts a word, then the rest,
-- dismisses, leaves insert mode, exercises the renderer with hand-made items (multi-line, UTF-16
-- ranges, a range replacing text after the cursor, a snippet, typing through, the keymaps), and
-- runs the commands. Everything observed goes to a JSON file; the pytest side asserts on it.
--
-- Inputs (globals set by the init.lua): vim.g.smallcode_e2e = { file, row, col, out, timeout_ms }.
local api = vim.api
local params = vim.g.smallcode_e2e
local R = { steps = {}, version = tostring(vim.version()) }
local co

local function write_results()
  local fh = assert(io.open(params.out, "w"))
  fh:write(vim.json.encode(R))
  fh:close()
end

local function finish(code)
  write_results()
  vim.cmd(code == 0 and "qall!" or ("cquit " .. code))
end

local function resume()
  local ok, err = coroutine.resume(co)
  if not ok then
    R.error = debug.traceback(co, tostring(err))
    finish(2)
  end
end

local function sleep(ms)
  vim.defer_fn(resume, ms)
  coroutine.yield()
end

local started = vim.uv.hrtime()

local function step(name)
  R.steps[#R.steps + 1] = name
  R.step_ms = R.step_ms or {}
  R.step_ms[#R.step_ms + 1] = math.floor((vim.uv.hrtime() - started) / 1e6)
end

local function wait_until(predicate, timeout_ms, what)
  local deadline = vim.uv.now() + timeout_ms
  while true do
    local ok, value = pcall(predicate)
    if ok and value then
      return value
    end
    if vim.uv.now() > deadline then
      error("timed out waiting for " .. what .. (ok and "" or (": " .. tostring(value))))
    end
    sleep(20)
  end
end

local function keys(text, remap)
  api.nvim_feedkeys(api.nvim_replace_termcodes(text, true, true, true), remap and "m" or "n", false)
end

local function lines(buf)
  return api.nvim_buf_get_lines(buf, 0, -1, false)
end

local function cursor()
  local pos = api.nvim_win_get_cursor(0)
  return { pos[1] - 1, pos[2] }
end

local function chunks_text(chunks)
  local out = {}
  for _, chunk in ipairs(chunks or {}) do
    out[#out + 1] = chunk[1]
  end
  return table.concat(out)
end

--- The ghost-text extmarks of `buf`, as plain data.
local function marks(buf)
  local ghost = require("smallcode.ghost")
  local out = {}
  for _, mark in ipairs(api.nvim_buf_get_extmarks(buf, ghost.ns, 0, -1, { details = true })) do
    local details = mark[4]
    local virt_lines = {}
    for _, line in ipairs(details.virt_lines or {}) do
      virt_lines[#virt_lines + 1] = chunks_text(line)
    end
    out[#out + 1] = {
      row = mark[2],
      col = mark[3],
      virt_text = details.virt_text and chunks_text(details.virt_text) or vim.NIL,
      virt_text_pos = details.virt_text_pos or vim.NIL,
      hl = details.virt_text and details.virt_text[1][2] or vim.NIL,
      virt_lines = virt_lines,
    }
  end
  return out
end

local function snapshot(buf)
  local ghost = require("smallcode.ghost")
  return {
    lines = lines(buf),
    cursor = cursor(),
    mode = vim.fn.mode(),
    marks = marks(buf),
    suggestion = ghost.get(buf) or vim.NIL,
    visible = ghost.visible(buf),
  }
end

local function enter_insert_at(row, col)
  if vim.fn.mode() ~= "n" then
    keys("<Esc>")
    wait_until(function()
      return vim.fn.mode() == "n"
    end, 2000, "normal mode")
  end
  api.nvim_win_set_cursor(0, { row + 1, 0 })
  keys("A") -- insert at the end of the line
  wait_until(function()
    return vim.fn.mode() == "i"
  end, 2000, "insert mode")
  api.nvim_win_set_cursor(0, { row + 1, col })
end

local function main()
  local smallcode = require("smallcode")
  local ghost = require("smallcode.ghost")
  local util = require("smallcode.util")

  step("open")
  vim.cmd.edit(vim.fn.fnameescape(params.file))
  local buf = api.nvim_get_current_buf()
  R.filetype = vim.bo[buf].filetype
  R.renderer_auto = smallcode.renderer()
  local client = wait_until(function()
    local found = util.clients("smallcode", buf)[1]
    return found and found.initialized and found.server_capabilities and found
  end, 20000, "the SmallCode client to attach")
  R.renderer = vim.b[buf].smallcode_renderer
  R.offset_encoding = client.offset_encoding
  R.root_dir = client.root_dir
  R.inline_capability = client.server_capabilities.inlineCompletionProvider ~= nil

  step("model")
  local status = wait_until(function()
    local s = smallcode.status({ bufnr = buf })
    return s and s.model and s.model.state ~= "loading" and s.index and s.index.state == "ready" and s
  end, 30000, "the model and the index")
  R.model_state = status.model.state
  R.model_error = status.model.error or vim.NIL
  R.settings = status.settings
  R.index_files = status.index.files

  -- A real suggestion from the server, shown as ghost text.
  step("trigger")
  enter_insert_at(params.row, params.col)
  R.before = snapshot(buf)
  R.trigger_sent = ghost.trigger(buf)
  wait_until(function()
    return ghost.visible(buf)
  end, 20000, "ghost text")
  R.shown = snapshot(buf)
  R.stats_after_show = ghost.stats(buf)

  step("accept word")
  R.accept_word = ghost.accept("word", buf)
  R.after_word = snapshot(buf)

  step("accept all")
  R.accept_all = ghost.accept("all", buf)
  R.after_all = snapshot(buf)

  -- The same position again: the suggestion comes back (server cache), then dismiss it.
  step("dismiss")
  api.nvim_buf_set_lines(buf, 0, -1, false, params.source_lines)
  enter_insert_at(params.row, params.col)
  ghost.trigger(buf)
  wait_until(function()
    return ghost.visible(buf)
  end, 20000, "ghost text again")
  R.again = snapshot(buf)
  R.dismissed = ghost.dismiss(buf)
  R.after_dismiss = snapshot(buf)
  -- What the server answers for this position, straight from the protocol.
  local line = api.nvim_buf_get_lines(buf, params.row, params.row + 1, false)[1]
  local raw = util.request_sync(client, "textDocument/inlineCompletion", {
    textDocument = { uri = vim.uri_from_bufnr(buf) },
    position = { line = params.row, character = util.char_col(line, params.col, client.offset_encoding) },
    context = { triggerKind = 1 },
  }, 20000, buf)
  R.raw_items = raw and (raw.items or raw) or vim.NIL

  step("insert leave")
  ghost.trigger(buf)
  wait_until(function()
    return ghost.visible(buf)
  end, 20000, "ghost text before <Esc>")
  R.before_leave = snapshot(buf)
  keys("<Esc>")
  wait_until(function()
    return vim.fn.mode() == "n"
  end, 2000, "normal mode after <Esc>")
  R.after_leave = snapshot(buf)

  -- Typing in insert mode asks by itself (debounced), no trigger() needed.
  step("auto trigger")
  api.nvim_buf_set_lines(buf, 0, -1, false, params.source_lines)
  enter_insert_at(params.row, params.col)
  local before_auto = ghost.stats(buf)
  keys("x")
  wait_until(function()
    local now = ghost.stats(buf)
    return now.automatic > before_auto.automatic and not now.pending
  end, 20000, "an automatic request to be answered")
  R.auto = { before = before_auto, after = ghost.stats(buf), line = api.nvim_get_current_line() }

  -- Hand-made items: the renderer's placement rules, independent of what the model says.
  step("synthetic multiline utf-16")
  ghost.configure({ auto_trigger = false }) -- no model answers racing the hand-made items
  ghost.dismiss(buf)
  api.nvim_buf_set_lines(buf, 0, -1, false, { 'x = "é😀"', "" })
  enter_insert_at(0, #'x = "é😀"')
  -- UTF-16: é is 1 unit, 😀 is 2; the range starts before the closing quote (unit 8 = byte 11).
  R.syn_multi_shown = ghost.show(buf, {
    items = {
      {
        insertText = '" + name\n    return s',
        range = { start = { line = 0, character = 8 }, ["end"] = { line = 0, character = 9 } },
      },
    },
  }, "utf-16")
  R.syn_multi = snapshot(buf)
  R.syn_multi_line1 = ghost.accept("line", buf)
  R.syn_multi_after_line1 = snapshot(buf)
  R.syn_multi_line2 = ghost.accept("line", buf)
  R.syn_multi_after_line2 = snapshot(buf)

  step("synthetic replace after cursor")
  api.nvim_buf_set_lines(buf, 0, -1, false, { "print()" })
  enter_insert_at(0, 6)
  R.syn_replace_shown = ghost.show(buf, {
    { insertText = '"hi")', range = { start = { line = 0, character = 6 }, ["end"] = { line = 0, character = 7 } } },
  }, "utf-16")
  R.syn_replace = snapshot(buf)
  ghost.accept("all", buf)
  R.syn_replace_after = snapshot(buf)

  step("synthetic wrong range")
  api.nvim_buf_set_lines(buf, 0, -1, false, { "abc" })
  enter_insert_at(0, 3)
  R.syn_mismatch_shown = ghost.show(buf, {
    { insertText = "zzz", range = { start = { line = 0, character = 1 }, ["end"] = { line = 0, character = 3 } } },
  }, "utf-16")
  R.syn_mismatch = snapshot(buf)

  step("synthetic typing through")
  api.nvim_buf_set_lines(buf, 0, -1, false, { "value = " })
  enter_insert_at(0, 8)
  ghost.show(buf, { { insertText = "compute(1)" } }, "utf-16")
  keys("co")
  wait_until(function()
    return api.nvim_get_current_line() == "value = co"
  end, 2000, "typed text")
  sleep(30)
  R.syn_typed = snapshot(buf)
  keys("X")
  wait_until(function()
    return api.nvim_get_current_line() == "value = coX"
  end, 2000, "typed text that disagrees")
  R.syn_typed_other = snapshot(buf)

  step("synthetic cursor move")
  api.nvim_buf_set_lines(buf, 0, -1, false, { "items = " })
  enter_insert_at(0, 8)
  R.syn_move_shown = ghost.show(buf, { { insertText = "[]" } }, "utf-16")
  keys("<Left>")
  wait_until(function()
    return cursor()[2] == 7
  end, 2000, "the cursor to move left")
  sleep(30)
  R.syn_move = snapshot(buf)

  step("keymaps")
  ghost.dismiss(buf)
  api.nvim_buf_set_lines(buf, 0, -1, false, { "total = " })
  enter_insert_at(0, 8)
  ghost.show(buf, { { insertText = "alpha + beta" } }, "utf-16")
  keys("<M-w>", true)
  wait_until(function()
    return api.nvim_get_current_line() == "total = alpha"
  end, 2000, "<M-w> to accept a word")
  R.key_word = snapshot(buf)
  keys("<Tab>", true) -- accept_with_tab is on in the test's setup()
  wait_until(function()
    return api.nvim_get_current_line() == "total = alpha + beta"
  end, 2000, "<Tab> to accept the rest")
  R.key_tab = snapshot(buf)
  ghost.dismiss(buf)
  keys("<Tab>", true) -- nothing visible: <Tab> is <Tab> again
  wait_until(function()
    return api.nvim_get_current_line() ~= "total = alpha + beta"
  end, 2000, "<Tab> to fall back")
  R.key_tab_fallback = snapshot(buf)
  ghost.show(buf, { { insertText = "gamma" } }, "utf-16")
  keys("<C-]>", true)
  wait_until(function()
    return not ghost.visible(buf)
  end, 2000, "<C-]> to dismiss")
  R.key_dismiss = snapshot(buf)
  keys("<M-l>", true) -- nothing to accept: no text, and still in insert mode
  sleep(60)
  R.key_accept_nothing = snapshot(buf)

  step("synthetic snippet")
  api.nvim_buf_set_lines(buf, 0, -1, false, { "y = " })
  enter_insert_at(0, 4)
  ghost.show(buf, { { insertText = { kind = "snippet", value = "make(${1:size}, ${2:n})$0" } } }, "utf-8")
  R.syn_snippet = snapshot(buf)
  ghost.accept("all", buf)
  R.syn_snippet_after = { lines = lines(buf) }
  R.snippet_texts = {
    ghost.snippet_text("a${1|x,y|}b"),
    ghost.snippet_text("\\$1 ${2:outer ${3:inner}} $TM_FILENAME ${VAR:dflt}$0"),
  }
  if vim.snippet and vim.snippet.stop then
    pcall(vim.snippet.stop)
  end
  keys("<Esc>")
  wait_until(function()
    return vim.fn.mode() == "n"
  end, 2000, "normal mode after the snippet")

  -- Commands.
  step("status")
  api.nvim_buf_set_lines(buf, 0, -1, false, params.source_lines)
  local sync_status, status_err = smallcode.status({ bufnr = buf })
  R.status = sync_status or vim.NIL
  R.status_error = status_err or vim.NIL
  vim.cmd("SmallCodeStatus")
  local float = wait_until(function()
    for _, win in ipairs(api.nvim_list_wins()) do
      if api.nvim_win_get_config(win).relative ~= "" then
        return win
      end
    end
  end, 10000, ":SmallCodeStatus window")
  local float_buf = api.nvim_win_get_buf(float)
  local text = table.concat(lines(float_buf), "\n")
  R.status_window = {
    filetype = vim.bo[float_buf].filetype,
    modifiable = vim.bo[float_buf].modifiable,
    line_count = #lines(float_buf),
    decoded = vim.json.decode(text),
  }
  api.nvim_win_close(float, true)
  api.nvim_set_current_buf(buf)

  step("fix")
  api.nvim_win_set_cursor(0, { params.row + 1, 0 })
  local fix_done = false
  smallcode.fix({
    bufnr = buf,
    quiet = true,
    on_result = function(result, err)
      R.fix = { result = result or vim.NIL, err = err or vim.NIL }
      fix_done = true
    end,
  })
  wait_until(function()
    return fix_done
  end, 20000, "smallcode.fix to answer")

  step("generate tests")
  local tests_done = false
  smallcode.generate_tests({
    bufnr = buf,
    name = "no_such_function",
    quiet = true,
    on_result = function(result, err)
      R.generate_tests = { result = result or vim.NIL, err = err or vim.NIL }
      tests_done = true
    end,
  })
  wait_until(function()
    return tests_done
  end, 20000, "smallcode.generateTests to answer")

  R.commands = vim.tbl_keys(api.nvim_get_commands({}))

  step("helpers")
  local config = require("smallcode.config")
  local merged = config.resolve({ cmd = "srv", filetypes = "*", root_markers = { ".hg" }, ghost = false })
  local keys_only = config.resolve({ keymaps = { accept = false, dismiss = "<C-e>" } })
  R.helpers = {
    cmd = merged.cmd,
    all_filetypes = merged.filetypes == nil,
    root_markers = merged.root_markers,
    ghost_enabled = merged.ghost.enabled,
    renderer_off = smallcode.renderer(merged),
    keymaps = keys_only.keymaps,
    settings_json = vim.json.encode(util.as_objects({ smallcode = { model = {}, index = { exclude = { "a" } } } })),
    pretty = util.pretty_json({ b = { 1, 2 }, a = vim.empty_dict(), c = 'x"y', d = 1.5, e = {}, f = true }),
    chunks = {
      ghost.next_chunk("  foo.bar", "word"),
      ghost.next_chunk("\n    return x", "word"),
      ghost.next_chunk("\n    return x", "line"),
      ghost.next_chunk("é+1", "word"),
      ghost.next_chunk("a\nb", "line"),
    },
  }
  step("done")
  finish(0)
end

api.nvim_create_autocmd("VimEnter", {
  once = true,
  callback = function()
    co = coroutine.create(main)
    vim.defer_fn(function()
      R.error = "watchdog: gave up after " .. params.timeout_ms .. " ms in step " .. tostring(R.steps[#R.steps])
      finish(3)
    end, params.timeout_ms)
    vim.schedule(resume)
  end,
})
