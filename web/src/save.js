// web/src/save.js: where a browser puts what it receives, without holding a whole file in
// memory where it can avoid it. Three savers, one interface:
// - "folder": the File System Access API (Chromium, secure contexts), into a folder the person
//   picks; folders keep their structure, and each file is written to a swap file the browser
//   only moves to its name when closed, so a failed file never appears.
// - "stream": a service worker (secure contexts) turns a stream from this page into an
//   ordinary download; several files or a folder become one streamed zip. A failed file
//   errors the download, which the browser then does not complete.
// - "disk": the browser's own private storage (the Origin Private File System, secure
//   contexts), where browsers without a folder picker (Firefox) write each byte as it
//   arrives; the download is handed to the browser only once everything arrived and checked
//   out, read from that file on disk. In Firefox the service worker's stream was seen to
//   gather in memory well ahead of what its download had written (over 1 GiB of memory for
//   a 1 GiB file) and the download to stop half-way, so that saver is not used where this
//   one can be.
// - "memory": plain http on a LAN has neither, so the bytes gather in Blobs (which browsers
//   spill to disk when large) and are downloaded at the end.
//
// A saver: `open(index, path, size)` gives a writer {write(bytes), close()}; `finish()` after
// the last file; `abort(error)` drops everything not yet complete.
// Place: beside transfer.js, under the page. Owns the service worker's messages.
// What it must never do: overwrite a file the person already has (folder saver), or give a
// download a name from the sender that the browser would not clean (browsers sanitise
// download names; the folder saver cleans each part itself).

import { makeZip, predictLength } from "client-zip";

/** Bytes the page batches before handing them to the service worker. */
const STREAM_BATCH = 1024 * 1024;

/** Bytes the disk saver gathers for one write. */
const DISK_BATCH = 1024 * 1024;
/** The disk saver's files are named so, and removed on the page's next visit once this old. */
const DISK_PREFIX = "toss-download-";
const DISK_STALE_MS = 60 * 60 * 1000;
/** How long a finished download's file stays for the browser to copy it out. */
const DISK_KEEP_MS = 10 * 60 * 1000;

/** Which savers this browser, on this page, can use. */
export function capabilities() {
  return {
    folder: typeof globalThis.showDirectoryPicker === "function" && globalThis.isSecureContext,
    stream: "serviceWorker" in navigator && globalThis.isSecureContext,
    disk:
      globalThis.isSecureContext === true &&
      typeof navigator.storage?.getDirectory === "function" &&
      typeof globalThis.FileSystemFileHandle === "function" &&
      "createWritable" in globalThis.FileSystemFileHandle.prototype,
  };
}

/** Registers the service worker early, so that a download need not wait for it. */
export function prepare() {
  if (!capabilities().stream) return Promise.resolve(null);
  return navigator.serviceWorker.register(new URL("sw.js", location.href), { scope: "./" }).catch(() => null);
}

/** The name of the one download for an offer: the file's own, or a zip's. */
export function downloadName(files) {
  if (files.length === 1 && !files[0].path.includes("/")) return files[0].path;
  const tops = new Set(files.map((f) => f.path.split("/")[0]));
  return tops.size === 1 ? `${[...tops][0]}.zip` : "toss-files.zip";
}

/** A file name part the folder saver can create: no separators, controls or reserved names. */
export function cleanPart(part) {
  let p = Array.from(String(part))
    .filter((c) => c.codePointAt(0) >= 0x20 && c !== "\u007f" && !/[\u202a-\u202e\u2066-\u2069]/u.test(c))
    .join("")
    .replace(/[\\/:*?"<>|]/gu, "_")
    .replace(/^[.\s]+|[.\s]+$/gu, "");
  if (p === "" || /^(con|prn|aux|nul|com[0-9]|lpt[0-9])(\..*)?$/iu.test(p)) p = `_${p}`;
  return p.slice(0, 200);
}

/**
 * A stream of bytes (a file, or a zip) that the service worker serves as a download.
 * @param {ServiceWorkerRegistration} registration
 * @param {string} name
 * @param {number|null} size
 * @returns {Promise<{writable: WritableStream<Uint8Array>}>}
 */
async function downloadStream(registration, name, size) {
  const sw = registration.active;
  if (!sw) throw new Error("the download helper is not running");
  const id = globalThis.crypto.randomUUID();
  const channel = new MessageChannel();
  let pulls = 0;
  let wake = null;
  let registered;
  const known = new Promise((resolve, reject) => {
    registered = resolve;
    setTimeout(() => reject(new Error("the download helper did not answer")), 5000);
  });
  channel.port1.onmessage = (e) => {
    if (e.data === "pull") {
      pulls += 1;
      wake?.();
    } else if (e.data === "registered") {
      registered();
    }
  };
  sw.postMessage({ type: "download", id, name, size }, [channel.port2]);
  // The worker's message and fetch events are separate tasks in no set order: the download
  // is only fetched once the worker says it knows it.
  await known;
  const frame = document.createElement("iframe");
  frame.hidden = true;
  frame.src = new URL(`dl/${id}/${encodeURIComponent(name)}`, location.href).href;
  document.body.append(frame);
  let batch = [];
  let batched = 0;
  const waitPull = async () => {
    while (pulls === 0) await new Promise((r) => (wake = r));
    pulls -= 1;
  };
  const flush = async () => {
    if (batched === 0) return;
    const out = new Uint8Array(batched);
    let at = 0;
    for (const b of batch) {
      out.set(b, at);
      at += b.length;
    }
    batch = [];
    batched = 0;
    await waitPull();
    channel.port1.postMessage({ chunk: out }, [out.buffer]);
  };
  const cleanup = () => setTimeout(() => frame.remove(), 60_000);
  const writable = new WritableStream({
    // The chunk is the page's to give: the transfer hands over each message's own bytes and
    // never touches them again, so they are batched as they are, not copied.
    async write(chunk) {
      batch.push(chunk);
      batched += chunk.length;
      if (batched >= STREAM_BATCH) await flush();
    },
    async close() {
      await flush();
      channel.port1.postMessage({ end: true });
      cleanup();
    },
    abort(reason) {
      channel.port1.postMessage({ abort: String(reason?.message ?? reason) });
      cleanup();
    },
  });
  return { writable };
}

/** A writer over a WritableStream's writer, for one file. */
function streamWriter(writer) {
  return {
    async write(bytes) {
      await writer.ready;
      await writer.write(bytes);
    },
    async close() {
      await writer.close();
    },
    abort(reason) {
      return writer.abort(reason).catch(() => {});
    },
  };
}

/**
 * The service-worker saver: one download, a file or a streamed zip.
 * @param {ServiceWorkerRegistration} registration
 * @param {{path: string, size: number}[]} files
 */
export async function streamSaver(registration, files) {
  const name = downloadName(files);
  const zipped = name.endsWith(".zip") && !(files.length === 1 && files[0].path === name);
  if (!zipped) {
    const { writable } = await downloadStream(registration, name, files[0].size);
    const writer = writable.getWriter();
    return {
      kind: "stream",
      name,
      async open() {
        return { write: (b) => writer.write(b), close: () => writer.close() };
      },
      async finish() {},
      async abort(e) {
        await writer.abort(e).catch(() => {});
      },
    };
  }
  const entries = files.map((f) => ({ name: f.path, size: f.size }));
  const size = Number(predictLength(entries));
  const { writable } = await downloadStream(registration, name, size);
  return zipSaver("stream", name, files, (zip) => zip.pipeTo(writable));
}

/**
 * Whether the disk saver should take an offer of `total` bytes here: only where the browser
 * has no folder picker (where it has one, its service-worker download keeps pace), and only
 * with room for it in the page's storage.
 * @param {number} total
 */
export async function diskFits(total) {
  const caps = capabilities();
  if (!caps.disk || caps.folder) return false;
  try {
    const { quota, usage } = await navigator.storage.estimate();
    return Number.isFinite(quota) && quota - (usage ?? 0) > total * 1.05 + (16 << 20);
  } catch {
    return false;
  }
}

/** Removes what earlier visits' disk savers left behind (a tab closed mid-download). */
async function sweep(root) {
  const now = Date.now();
  for await (const [name, handle] of root.entries()) {
    if (!name.startsWith(DISK_PREFIX) || handle.kind !== "file") continue;
    try {
      if (now - (await handle.getFile()).lastModified > DISK_STALE_MS) await root.removeEntry(name);
    } catch {
      // In use by another tab, or gone already.
    }
  }
}

/** Has the browser download `blob` as `name`, as a click on a link would. */
function downloadBlob(blob, name, keepMs) {
  const url = URL.createObjectURL(blob);
  const a = document.createElement("a");
  a.href = url;
  a.download = name;
  a.hidden = true;
  document.body.append(a);
  a.click();
  setTimeout(() => {
    URL.revokeObjectURL(url);
    a.remove();
  }, keepMs);
}

/**
 * The disk saver: one file in the browser's private storage (a file, or a streamed zip),
 * written as the bytes arrive, downloaded from there once all of it checked out.
 * @param {{path: string, size: number}[]} files
 */
export async function diskSaver(files) {
  const root = await navigator.storage.getDirectory();
  await sweep(root).catch(() => {});
  const name = downloadName(files);
  const zipped = name.endsWith(".zip") && !(files.length === 1 && files[0].path === name);
  const own = `${DISK_PREFIX}${globalThis.crypto.randomUUID()}`;
  const handle = await root.getFileHandle(own, { create: true });
  const file = await handle.createWritable({ keepExistingData: false });
  const remove = () => root.removeEntry(own).catch(() => {});
  const download = async () => {
    downloadBlob(await handle.getFile(), name, DISK_KEEP_MS);
    setTimeout(remove, DISK_KEEP_MS);
  };
  // Writes of 1 MiB, not one per message: each write crosses to the browser's disk process.
  const batch = new Uint8Array(DISK_BATCH);
  let batched = 0;
  const flush = async () => {
    if (batched === 0) return;
    await file.write(batch.slice(0, batched));
    batched = 0;
  };
  const writable = new WritableStream({
    async write(chunk) {
      let at = 0;
      while (at < chunk.length) {
        const n = Math.min(chunk.length - at, DISK_BATCH - batched);
        batch.set(chunk.subarray(at, at + n), batched);
        batched += n;
        at += n;
        if (batched === DISK_BATCH) await flush();
      }
    },
    async close() {
      await flush();
      await file.close();
    },
    async abort(reason) {
      await file.abort(reason).catch(() => {});
    },
  });
  if (!zipped) {
    const writer = writable.getWriter();
    return {
      kind: "disk",
      name,
      async open() {
        return { write: (b) => writer.write(b), close: async () => {} };
      },
      async finish() {
        await writer.close();
        await download();
      },
      async abort(e) {
        await writer.abort(e).catch(() => {});
        await remove();
      },
    };
  }
  const saver = zipSaver("disk", name, files, async (zip) => {
    await zip.pipeTo(writable);
    await download();
  });
  const abort = saver.abort;
  saver.abort = async (e) => {
    await abort(e);
    await remove();
  };
  return saver;
}

/**
 * A zip of `files` written through `sink` (a function given the zip's ReadableStream).
 * Each file's bytes pass through an identity stream, so the zip pulls them as they come.
 */
function zipSaver(kind, name, files, sink) {
  const pipes = files.map(() => new TransformStream());
  async function* inputs() {
    for (const [i, f] of files.entries()) {
      yield { name: f.path, size: f.size, lastModified: new Date(), input: pipes[i].readable };
    }
  }
  const zip = makeZip(inputs(), { length: predictLength(files.map((f) => ({ name: f.path, size: f.size }))) });
  const sunk = sink(zip);
  sunk.catch(() => {});
  let current = null;
  return {
    kind,
    name,
    async open(index) {
      current = pipes[index].writable.getWriter();
      return streamWriter(current);
    },
    async finish() {
      await sunk;
    },
    async abort(e) {
      for (const p of pipes) await p.writable.abort(e).catch(() => {});
      await sunk.catch(() => {});
    },
  };
}

/**
 * The folder saver: into a directory the person picked (File System Access API).
 * @param {FileSystemDirectoryHandle} root
 */
export function folderSaver(root) {
  const opened = [];
  return {
    kind: "folder",
    name: root.name,
    async open(_index, path) {
      const parts = path.split("/").map(cleanPart);
      let dir = root;
      for (const p of parts.slice(0, -1)) dir = await dir.getDirectoryHandle(p, { create: true });
      const name = await freeName(dir, parts[parts.length - 1]);
      const handle = await dir.getFileHandle(name, { create: true });
      const w = await handle.createWritable({ keepExistingData: false });
      const entry = { w, dir, name, closed: false };
      opened.push(entry);
      return {
        write: (b) => w.write(b),
        close: async () => {
          await w.close();
          entry.closed = true;
        },
      };
    },
    async finish() {},
    async abort(e) {
      for (const entry of opened.filter((o) => !o.closed)) {
        await entry.w.abort(e).catch(() => {});
        await entry.dir.removeEntry(entry.name).catch(() => {});
      }
    },
  };
}

/** `name`, or `name (2).ext`… when the folder already has one: nothing is overwritten. */
async function freeName(dir, name) {
  const dot = name.lastIndexOf(".");
  const [stem, ext] = dot > 0 ? [name.slice(0, dot), name.slice(dot)] : [name, ""];
  for (let n = 1; n < 10_000; n += 1) {
    const candidate = n === 1 ? name : `${stem} (${n})${ext}`;
    try {
      await dir.getFileHandle(candidate);
    } catch {
      try {
        await dir.getDirectoryHandle(candidate);
      } catch {
        return candidate;
      }
    }
  }
  throw new Error(`the folder already holds too many files named ${name}`);
}

/** The memory saver: Blobs, downloaded once everything arrived and checked out. */
export function memorySaver(files) {
  const name = downloadName(files);
  const blobs = files.map(() => null);
  let parts = [];
  let partBytes = 0;
  let spilled = [];
  const download = (blob) => downloadBlob(blob, name, 60_000);
  return {
    kind: "memory",
    name,
    async open(index) {
      parts = [];
      partBytes = 0;
      spilled = [];
      return {
        async write(bytes) {
          parts.push(bytes.slice());
          partBytes += bytes.length;
          // Gather into Blobs of 8 MiB: a browser keeps large Blobs on disk, not in the heap.
          if (partBytes >= 8 * 1024 * 1024) {
            spilled.push(new Blob(parts));
            parts = [];
            partBytes = 0;
          }
        },
        async close() {
          blobs[index] = new Blob([...spilled, new Blob(parts)]);
          parts = [];
          spilled = [];
        },
      };
    },
    async finish() {
      if (files.length === 1 && name === files[0].path) {
        download(blobs[0]);
        return;
      }
      const zip = makeZip(files.map((f, i) => ({ name: f.path, size: f.size, lastModified: new Date(), input: blobs[i] })));
      download(await new Response(zip).blob());
    },
    async abort() {
      blobs.fill(null);
      parts = [];
      spilled = [];
    },
  };
}
