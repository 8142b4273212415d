-- SmallCode: commands and <Plug> mappings exist as soon as the plugin is on 'runtimepath';
-- the language server starts once require("smallcode").setup({...}) has run.
if vim.g.loaded_smallcode == 1 then
  return
end
vim.g.loaded_smallcode = 1

if vim.fn.has("nvim-0.10") == 0 then
  return
end

vim.api.nvim_set_hl(0, "SmallCodeGhost", { link = "Comment", default = true })
require("smallcode.commands").create()
require("smallcode.keymaps").define_plug_mappings()
