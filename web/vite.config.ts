/// <reference types="vitest/config" />
import { defineConfig } from 'vite';

// One self-contained IIFE file, dist/widget.js: React is bundled in and the
// CSS is imported as a string and injected into the widget's shadow root.
export default defineConfig(({ command }) => ({
  esbuild: { jsx: 'automatic' },
  // Only the build is for production; tests run React's development build
  // (which has `act`).
  define:
    command === 'build' ? { 'process.env.NODE_ENV': JSON.stringify('production') } : {},
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2019',
    minify: 'esbuild',
    sourcemap: false,
    copyPublicDir: false,
    lib: {
      entry: 'src/main.tsx',
      formats: ['iife'],
      name: 'wismoWidget',
      fileName: () => 'widget.js',
    },
    rollupOptions: {
      output: { inlineDynamicImports: true },
    },
  },
  test: {
    environment: 'jsdom',
    include: ['test/**/*.test.{ts,tsx}'],
  },
}));
