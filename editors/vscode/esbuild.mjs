// Bundles the extension and vscode-languageclient into one file, so the .vsix needs no node_modules.
import * as esbuild from 'esbuild';

await esbuild.build({
  entryPoints: ['src/extension.ts'],
  outfile: 'dist/extension.js',
  bundle: true,
  platform: 'node',
  target: 'node20', // VS Code 1.91's extension host runs Node 20
  format: 'cjs',
  external: ['vscode'], // provided by the extension host at run time
  minify: true,
  keepNames: true, // readable class names in stack traces despite minification
  sourcemap: false,
  logLevel: 'info',
});
