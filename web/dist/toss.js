/* The Toss web peer (bundled from web/src/page.js by `npm run build`). */
