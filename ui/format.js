// format.js: numbers, sizes and times turned into short English text for people.
// Pure functions only: no DOM, no Tauri, so they are easy to reason about and to test.

const UNITS = ["KiB", "MiB", "GiB", "TiB"];

/** 0 -> "0 B", 1536 -> "1.5 KiB", 5 GiB -> "5.0 GiB". Binary units, one decimal. */
export function formatBytes(n) {
  if (typeof n !== "number" || !Number.isFinite(n) || n < 0) return "unknown size";
  if (n < 1024) return `${Math.round(n)} B`;
  let value = n / 1024;
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit += 1;
  }
  // 1023.96 KiB would print as "1024.0 KiB"; move up a unit instead.
  if (value.toFixed(1) === "1024.0" && unit < UNITS.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value.toFixed(1)} ${UNITS[unit]}`;
}

/** Bytes per second -> "12.3 MiB/s". */
export function formatRate(bytesPerSecond) {
  if (typeof bytesPerSecond !== "number" || !Number.isFinite(bytesPerSecond) || bytesPerSecond < 0) {
    return "";
  }
  return `${formatBytes(bytesPerSecond)}/s`;
}

/** Estimated seconds left -> "12 s left", "about 3 min left", "about 1 h 20 min left". */
export function formatTimeLeft(seconds) {
  if (typeof seconds !== "number" || !Number.isFinite(seconds) || seconds < 0) return "";
  if (seconds < 60) return `${Math.max(1, Math.ceil(seconds))} s left`;
  const minutes = Math.round(seconds / 60);
  if (minutes < 60) return `about ${minutes} min left`;
  const hours = Math.floor(minutes / 60);
  const rest = minutes % 60;
  return rest ? `about ${hours} h ${rest} min left` : `about ${hours} h left`;
}

/** Elapsed seconds -> "0.4 s", "12 s", "3 min 4 s", "1 h 2 min". */
export function formatDuration(seconds) {
  if (typeof seconds !== "number" || !Number.isFinite(seconds) || seconds < 0) return "";
  if (seconds < 10) return `${seconds.toFixed(1)} s`;
  if (seconds < 60) return `${Math.round(seconds)} s`;
  const total = Math.round(seconds);
  if (total < 3600) {
    const s = total % 60;
    return s ? `${Math.floor(total / 60)} min ${s} s` : `${total / 60} min`;
  }
  const minutes = Math.round(total / 60);
  const m = minutes % 60;
  return m ? `${Math.floor(minutes / 60)} h ${m} min` : `${minutes / 60} h`;
}

/** Unix seconds -> "just now", "5 min ago", "3 h ago", "yesterday", "4 days ago", or a date. */
export function formatRelativeTime(unixSeconds, nowMs = Date.now()) {
  if (typeof unixSeconds !== "number" || !Number.isFinite(unixSeconds)) return "";
  const ago = Math.floor(nowMs / 1000 - unixSeconds);
  if (ago < 60) return "just now";
  if (ago < 3600) return `${Math.floor(ago / 60)} min ago`;
  const then = new Date(unixSeconds * 1000);
  const now = new Date(nowMs);
  const days = calendarDaysBetween(then, now);
  if (days === 0) return `${Math.floor(ago / 3600)} h ago`;
  if (days === 1) return "yesterday";
  if (days < 7) return `${days} days ago`;
  return then.toLocaleDateString(undefined, { day: "numeric", month: "short", year: "numeric" });
}

function calendarDaysBetween(a, b) {
  const dayA = Date.UTC(a.getFullYear(), a.getMonth(), a.getDate());
  const dayB = Date.UTC(b.getFullYear(), b.getMonth(), b.getDate());
  return Math.round((dayB - dayA) / 86400000);
}

/** (1, "file") -> "1 file"; (3, "file") -> "3 files"; large counts get separators. */
export function plural(count, one, many = `${one}s`) {
  return `${count.toLocaleString("en-US")} ${count === 1 ? one : many}`;
}

/** Whole percent, never 100 before the last byte: 999/1000 -> 99. */
export function percent(done, total) {
  if (!total || total <= 0) return done > 0 ? 100 : 0;
  if (done >= total) return 100;
  return Math.min(99, Math.floor((done / total) * 100));
}

/** "/home/u/photos/" -> "photos"; "C:\\x\\a.txt" -> "a.txt". */
export function baseName(path) {
  const trimmed = String(path).replace(/[/\\]+$/, "");
  const cut = Math.max(trimmed.lastIndexOf("/"), trimmed.lastIndexOf("\\"));
  const name = cut >= 0 ? trimmed.slice(cut + 1) : trimmed;
  return name || String(path);
}
