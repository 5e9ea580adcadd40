// web/src/wordlist.js: the 256 words that codes and verification words are made of.
//
// Place: data only, imported by crypto.js (verification words) and by whatever parses a
// typed code. It must stay identical to crates/core/src/wordlist.rs, word for word and in
// the same order (a word's index is the byte it stands for): web/test/crypto.test.js checks
// it against the list the Rust test writes into web/test/fixtures/vectors.json. Never sort,
// add or fix a word here alone.

/**
 * The word list, sorted; `WORDS[b]` is the word for the byte `b`.
 * @type {readonly string[]}
 */
export const WORDS = Object.freeze([
  "acid", "acorn", "actor", "adobe", "agent", "alarm", "album", "alpha", "amber", "angle", "apple",
  "apron", "arena", "arrow", "atlas", "attic", "audio", "aunt", "autumn", "award", "bacon",
  "badge", "bagel", "baker", "bamboo", "banjo", "barn", "basil", "basket", "beach", "beard",
  "beaver", "berry", "bingo", "birch", "bison", "blade", "bloom", "board", "boat", "bonus",
  "bottle", "boxer", "brain", "brick", "bridge", "broom", "bucket", "bunny", "butter", "cabin",
  "cactus", "camel", "candle", "canoe", "canyon", "carpet", "carrot", "castle", "cedar", "cello",
  "chalk", "cherry", "chess", "chili", "cider", "cinema", "circus", "citrus", "clock", "cloud",
  "clover", "cobra", "cocoa", "comet", "copper", "coral", "cotton", "cousin", "coyote", "crane",
  "crayon", "crown", "daisy", "dancer", "delta", "denim", "desert", "diary", "dingo", "dinner",
  "doctor", "donkey", "dragon", "dream", "drum", "eagle", "easel", "echo", "elbow", "ember",
  "engine", "falcon", "fiddle", "finch", "flame", "flute", "forest", "fossil", "fox", "frog",
  "galaxy", "garden", "garlic", "gecko", "ginger", "globe", "goose", "grape", "gravel", "guitar",
  "hammer", "harbor", "hazel", "helmet", "heron", "hippo", "honey", "hotel", "husky", "igloo",
  "island", "ivory", "jacket", "jaguar", "jelly", "jigsaw", "jungle", "kayak", "kettle", "kiwi",
  "koala", "ladder", "lagoon", "lantern", "lemon", "lentil", "lily", "lion", "lizard", "llama",
  "lotus", "magnet", "mango", "maple", "marble", "meadow", "melon", "mint", "mirror", "mitten",
  "monkey", "moose", "motor", "muffin", "napkin", "nectar", "needle", "noodle", "nutmeg", "oasis",
  "ocean", "olive", "onion", "orange", "orbit", "otter", "owl", "paddle", "panda", "papaya",
  "parrot", "pasta", "peach", "peanut", "pebble", "pencil", "pepper", "piano", "pickle", "pillow",
  "pilot", "pine", "pirate", "planet", "plum", "pocket", "poppy", "potato", "prism", "pumpkin",
  "puzzle", "quartz", "quill", "rabbit", "radar", "radish", "raven", "ribbon", "river", "robin",
  "rocket", "rose", "ruby", "saddle", "salmon", "sandal", "satin", "scarf", "shadow", "shark",
  "shell", "silver", "sketch", "sled", "snail", "sofa", "spider", "spoon", "squid", "star",
  "stone", "sugar", "summer", "sunset", "swan", "table", "tango", "teapot", "tiger", "toast",
  "tomato", "topaz", "tulip", "tunnel", "turtle", "valley", "velvet", "violin", "wagon", "walnut",
  "walrus", "whale", "willow", "window", "wizard",
]);
