/* The Toss web peer service worker: streams received files to the browser download. */
