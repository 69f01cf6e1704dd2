import { defineConfig } from 'vite';

// The agent console: one self-contained IIFE file, dist/console.js, with
// React bundled in and its CSS imported as a string and injected into the
// page. It goes into the same dist/ as the widget, so it must not empty it
// (`npm run build` builds the widget first, then this).
export default defineConfig({
  esbuild: { jsx: 'automatic' },
  define: { 'process.env.NODE_ENV': JSON.stringify('production') },
  build: {
    outDir: 'dist',
    emptyOutDir: false,
    target: 'es2019',
    minify: 'esbuild',
    sourcemap: false,
    copyPublicDir: false,
    lib: {
      entry: 'src/console/main.tsx',
      formats: ['iife'],
      name: 'wismoConsole',
      fileName: () => 'console.js',
    },
    rollupOptions: {
      output: { inlineDynamicImports: true },
    },
  },
});
