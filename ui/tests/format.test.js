// format.js: the sizes, speeds and times of the fixture's events as people read them, and
// the edges (units, rounding, plurals) that the screens rely on.

import assert from "node:assert/strict";
import { test } from "node:test";

import {
  baseName,
  formatBytes,
  formatDuration,
  formatRate,
  formatRelativeTime,
  formatTimeLeft,
  percent,
  plural,
} from "../format.js";
import { all, pick } from "./fixture.js";

test("the sizes of an offer's files", () => {
  const offer = pick("offer", (e) => e.files.length > 1);
  assert.deepEqual(
    offer.files.map((f) => formatBytes(f.size)),
    ["3.5 MiB", "1.5 KiB", "2.0 MiB"],
  );
  assert.equal(formatBytes(offer.total_bytes), "5.5 MiB");
});

test("bytes in binary units with one decimal", () => {
  assert.equal(formatBytes(0), "0 B");
  assert.equal(formatBytes(1023), "1023 B");
  assert.equal(formatBytes(1536), "1.5 KiB");
  // Just under a MiB would round to "1024.0 KiB": it moves up a unit instead.
  assert.equal(formatBytes(1024 * 1024 - 40), "1.0 MiB");
  assert.equal(formatBytes(5 * 1024 ** 3), "5.0 GiB");
  assert.equal(formatBytes(3 * 1024 ** 5), "3072.0 TiB");
  assert.equal(formatBytes(-1), "unknown size");
  assert.equal(formatBytes(NaN), "unknown size");
  assert.equal(formatBytes("12"), "unknown size");
});

test("speed and time left from progress", () => {
  const [receiving, sending] = all("progress");
  assert.equal(formatRate(receiving.rate), "12.5 MiB/s");
  assert.equal(formatTimeLeft(receiving.eta_secs), "1 s left");
  // Before a speed is known there is no time left to tell.
  assert.equal(formatRate(sending.rate), "0 B/s");
  assert.equal(formatTimeLeft(sending.eta_secs), "");
  assert.equal(formatRate(-1), "");
  assert.equal(formatTimeLeft(42.2), "43 s left");
  assert.equal(formatTimeLeft(90), "about 2 min left");
  assert.equal(formatTimeLeft(80 * 60), "about 1 h 20 min left");
  assert.equal(formatTimeLeft(2 * 3600), "about 2 h left");
});

test("how long a finished transfer took", () => {
  assert.deepEqual(
    all("done").map((e) => formatDuration(e.seconds)),
    ["2.5 s", "1 min 15 s", "0.2 s"],
  );
  assert.equal(formatDuration(12.4), "12 s");
  assert.equal(formatDuration(120), "2 min");
  assert.equal(formatDuration(3720), "1 h 2 min");
  assert.equal(formatDuration(7200), "2 h");
  assert.equal(formatDuration(-1), "");
});

test("when a past transfer happened", () => {
  const now = new Date(2026, 5, 10, 15, 0, 0).getTime();
  const ago = (seconds) => Math.floor(now / 1000) - seconds;
  assert.equal(formatRelativeTime(ago(30), now), "just now");
  assert.equal(formatRelativeTime(ago(5 * 60), now), "5 min ago");
  assert.equal(formatRelativeTime(ago(3 * 3600), now), "3 h ago");
  assert.equal(formatRelativeTime(new Date(2026, 5, 9, 20, 0, 0).getTime() / 1000, now), "yesterday");
  assert.equal(formatRelativeTime(new Date(2026, 5, 6, 9, 0, 0).getTime() / 1000, now), "4 days ago");
  assert.match(formatRelativeTime(new Date(2026, 4, 1, 9, 0, 0).getTime() / 1000, now), /2026/);
  assert.equal(formatRelativeTime(undefined, now), "");
});

test("counts, percentages and names", () => {
  assert.equal(plural(1, "file"), "1 file");
  assert.equal(plural(0, "file"), "0 files");
  assert.equal(plural(20000, "file"), "20,000 files");
  assert.equal(plural(2, "copy", "copies"), "2 copies");
  const p = pick("progress", (e) => e.direction === "receive");
  assert.equal(percent(p.bytes, p.total), 27);
  assert.equal(percent(999, 1000), 99);
  assert.equal(percent(1000, 1000), 100);
  assert.equal(percent(0, 0), 0);
  assert.equal(percent(5, 0), 100);
  assert.equal(baseName("/home/u/photos/"), "photos");
  assert.equal(baseName("C:\\x\\a.txt"), "a.txt");
  assert.equal(baseName("report.pdf"), "report.pdf");
});
