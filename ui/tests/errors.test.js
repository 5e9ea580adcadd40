// Every error in the fixture (real messages from toss-core's errors) as the error screen
// shows it: a title picked by its kind, and the core's sentence under it.

import assert from "node:assert/strict";
import { test } from "node:test";

import { errorSentence, errorTitle } from "../screens/error.js";
import { all } from "./fixture.js";

/** What the error screen shows for `event`: its title and the sentence under it. */
function shown(event) {
  const title = errorTitle(event.kind);
  return [event.kind, title, errorSentence(title, event.message)];
}

test("each error kind has its title and the core's sentence, made a sentence", () => {
  assert.deepEqual(all("error").map(shown), [
    [
      "wrong_code",
      "Wrong code",
      "The code was mistyped, or someone tried to guess it; ask the sender for a new code.",
    ],
    ["declined", "The receiver declined", "The receiver declined the transfer."],
    ["cancelled", "Transfer cancelled", "The transfer was cancelled."],
    ["cancelled", "Transfer cancelled", "The other side cancelled the transfer."],
    [
      "peer_gone",
      "The other computer disconnected",
      "The other side disconnected before the transfer finished.",
    ],
    [
      "connect",
      "Could not connect",
      "Could not connect to the other computer: the two computers could not reach each other directly (a TURN server can help).",
    ],
    [
      "no_space",
      "Not enough disk space",
      "Not enough free disk space: the transfer needs 5242880 bytes but 1048576 are free.",
    ],
    [
      "unreachable",
      "The connection was lost",
      "The connection to the other computer was lost and 5 attempts in a row to bring it back moved no data; send the same files again to pick up where they stopped.",
    ],
    [
      "words_differ",
      "The words were different",
      "The verification words were not the same on both screens, so someone may be in the middle; nothing was sent.",
    ],
    [
      "timed_out",
      "It took too long",
      "The other side did not finish the key exchange in time; check the code, or ask the sender for a new one.",
    ],
    [
      "corrupt",
      "A file arrived damaged",
      "Holiday/beach.jpg arrived damaged (its checksum does not match); it was not kept.",
    ],
    [
      "disk_full",
      "The disk is full",
      "/home/ana/Downloads/holiday/beach.jpg.part could not be written; free some space and try again.",
    ],
    [
      "signal_unreachable",
      "The server cannot be reached",
      "Cannot reach the signaling server at wss://toss.example.org: no answer in time.",
    ],
    [
      "signal_certificate",
      "The server's certificate is not trusted",
      "The signaling server at wss://toss.example.org showed a certificate this computer does not trust (UnknownIssuer); if it is your own server with a private certificate, add its CA to this computer's trusted certificates (or give it to toss with --signal-ca).",
    ],
    [
      "no_relay",
      "No relay server",
      "Only relayed connections were asked for, but no TURN server is set and the signaling server offers none (turn unavailable); set a TURN server, or allow direct connections.",
    ],
    [
      "turn_refused",
      "The relay server refused",
      "The TURN server refused the relay credentials (they expired, or the server's shared secret changed); try again, and if it persists, check the TURN server's secret.",
    ],
    ["turned_away", "Not let in", "You did not let this receiver in; nothing was sent to it."],
    [
      "some_receivers_missed",
      "Not everyone got the files",
      "2 of 3 receivers got everything; each of the others says why.",
    ],
  ]);
});

test("a kind without a title of its own, or none, still gets one", () => {
  assert.equal(errorTitle("internal"), "Something went wrong");
  assert.equal(errorTitle("other"), "Something went wrong");
  assert.equal(errorTitle(undefined), "Something went wrong");
  assert.equal(errorSentence("Something went wrong", ""), "");
});
