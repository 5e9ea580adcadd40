// web/src/code.js: the code a person reads out (`42-orbit-lemon`), parsed as the core parses
// it (crates/core/src/code.rs): any case, spaces or dashes between the parts, a nameplate of
// at most 8 digits (canonical: a number without leading zeros, after one 0 for a room on the
// sender's local network), and two words from the word list.
//
// Place: beside crypto.js, under the session. Pure; no DOM, no network.
// What it must never do: accept a code the core would refuse, or say more than one sentence.

import { WORDS } from "./wordlist.js";

const MAX_NAMEPLATE_DIGITS = 8;

/** A typed code that is not a code; `message` is the sentence for the person. */
export class CodeError extends Error {}

/**
 * Parses what a person typed.
 * @param {string} typed
 * @returns {{nameplate: string, password: string, text: string}} the canonical parts, and the
 *   whole code as the sender's screen shows it.
 * @throws {CodeError}
 */
export function parseCode(typed) {
  const parts = String(typed)
    .trim()
    .toLowerCase()
    .split(/[-\s]+/u)
    .filter((p) => p.length > 0);
  if (parts.length === 0) throw new CodeError("enter the code the sender gave you, like 42-orbit-lemon");
  const nameplate = parseNameplate(parts[0]);
  if (parts.length !== 3) throw new CodeError("a code is a number and two words, like 42-orbit-lemon");
  for (const word of parts.slice(1)) {
    if (!WORDS.includes(word)) {
      throw new CodeError(`"${word}" is not one of Toss's code words; check the spelling`);
    }
  }
  const password = `${parts[1]}-${parts[2]}`;
  return { nameplate, password, text: `${nameplate}-${password}` };
}

function parseNameplate(part) {
  if (part.length === 0 || part.length > MAX_NAMEPLATE_DIGITS || !/^[0-9]+$/u.test(part)) {
    throw new CodeError(`a code starts with a number, like the 42 in 42-orbit-lemon (got "${part}")`);
  }
  const number = part.replace(/^0+/u, "");
  if (number.length === 0) {
    throw new CodeError(`a code starts with a number, like the 42 in 42-orbit-lemon (got "${part}")`);
  }
  return (number.length < part.length ? "0" : "") + number;
}

/**
 * Two random words for a new code, from the browser's CSPRNG.
 * @returns {string} `word-word`.
 */
export function randomPassword() {
  const b = new Uint8Array(2);
  globalThis.crypto.getRandomValues(b);
  return `${WORDS[b[0]]}-${WORDS[b[1]]}`;
}

/**
 * The code in a page link's fragment (`#42-orbit-lemon`), or null when there is none.
 * @param {string} hash `location.hash`.
 * @returns {string|null}
 */
export function codeFromFragment(hash) {
  const raw = decodeURIComponent(String(hash).replace(/^#/u, "")).trim();
  return raw.length > 0 ? raw : null;
}
