// sw.js: the Toss web peer's service worker. It has one job: serve `dl/ID/NAME`, a download
// whose bytes the page streams to it over a MessageChannel as they arrive from the peer, so
// that a received file goes to the browser's downloads without ever being whole in memory.
//
// Place: beside the page, on the same origin; it sees only what the page hands it.
// What it must never do: cache, fetch anything, or answer any other request (those go to the
// network as if it were not there).

const pending = new Map();

self.addEventListener("install", () => self.skipWaiting());
self.addEventListener("activate", (e) => e.waitUntil(self.clients.claim()));

self.addEventListener("message", (e) => {
  const d = e.data;
  if (d?.type !== "download" || typeof d.id !== "string" || !e.ports[0]) return;
  pending.set(d.id, { port: e.ports[0], name: String(d.name), size: d.size });
  e.ports[0].postMessage("registered");
  // A download never fetched (the page went away) is forgotten after a minute.
  setTimeout(() => pending.delete(d.id), 60_000);
});

function contentDisposition(name) {
  const ascii = name.replace(/[^\x20-\x7e]|["\\]/gu, "_");
  return `attachment; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(name)}`;
}

self.addEventListener("fetch", (e) => {
  const url = new URL(e.request.url);
  const m = /\/dl\/([0-9a-f-]{36})\/[^/]*$/u.exec(url.pathname);
  if (!m || url.origin !== self.location.origin) return;
  const job = pending.get(m[1]);
  if (!job) return;
  pending.delete(m[1]);
  const { port } = job;
  const body = new ReadableStream(
    {
      start(controller) {
        port.onmessage = (msg) => {
          const d = msg.data;
          if (d.chunk) controller.enqueue(d.chunk);
          else if (d.end) controller.close();
          else if (d.abort) controller.error(new Error(d.abort));
        };
      },
      pull() {
        port.postMessage("pull");
      },
      cancel() {
        port.postMessage("cancelled");
      },
    },
    new CountQueuingStrategy({ highWaterMark: 4 }),
  );
  const headers = {
    "Content-Type": "application/octet-stream",
    "Content-Disposition": contentDisposition(job.name),
    "X-Content-Type-Options": "nosniff",
  };
  if (Number.isSafeInteger(job.size)) headers["Content-Length"] = String(job.size);
  e.respondWith(new Response(body, { headers }));
});
