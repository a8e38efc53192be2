// The studio bundle: built into ../api/studio_dist (committed, so `pip install -e .` serves it
// without node), loaded from /studio/ by the API. No CDN, no web fonts: everything is bundled.
import { defineConfig } from "vite";

export default defineConfig({
  base: "/studio/",
  build: {
    outDir: "../api/studio_dist",
    emptyOutDir: true,
    assetsDir: "assets",
    sourcemap: false,
    target: "es2022",
    modulePreload: { polyfill: false },
    reportCompressedSize: false,
  },
  server: {
    proxy: {
      "^/(workspaces|conversations|auth|me|health|openapi.json|docs|studio/config)": "http://127.0.0.1:8000",
    },
  },
});
