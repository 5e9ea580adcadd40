//! The fixed list of 256 words that codes and verification words are made of.
//!
//! Chosen to be short, common, distinct when spoken, and free of homophones; sorted so
//! that lookup is a binary search. Changing this list breaks compatibility with older peers.

/// The 256 words, sorted; a word's index is the byte it stands for.
pub const WORDS: [&str; 256] = [
    "acid", "acorn", "actor", "adobe", "agent", "alarm", "album", "alpha", "amber", "angle",
    "apple", "apron", "arena", "arrow", "atlas", "attic", "audio", "aunt", "autumn", "award",
    "bacon", "badge", "bagel", "baker", "bamboo", "banjo", "barn", "basil", "basket", "beach",
    "beard", "beaver", "berry", "bingo", "birch", "bison", "blade", "bloom", "board", "boat",
    "bonus", "bottle", "boxer", "brain", "brick", "bridge", "broom", "bucket", "bunny", "butter",
    "cabin", "cactus", "camel", "candle", "canoe", "canyon", "carpet", "carrot", "castle", "cedar",
    "cello", "chalk", "cherry", "chess", "chili", "cider", "cinema", "circus", "citrus", "clock",
    "cloud", "clover", "cobra", "cocoa", "comet", "copper", "coral", "cotton", "cousin", "coyote",
    "crane", "crayon", "crown", "daisy", "dancer", "delta", "denim", "desert", "diary", "dingo",
    "dinner", "doctor", "donkey", "dragon", "dream", "drum", "eagle", "easel", "echo", "elbow",
    "ember", "engine", "falcon", "fiddle", "finch", "flame", "flute", "forest", "fossil", "fox",
    "frog", "galaxy", "garden", "garlic", "gecko", "ginger", "globe", "goose", "grape", "gravel",
    "guitar", "hammer", "harbor", "hazel", "helmet", "heron", "hippo", "honey", "hotel", "husky",
    "igloo", "island", "ivory", "jacket", "jaguar", "jelly", "jigsaw", "jungle", "kayak", "kettle",
    "kiwi", "koala", "ladder", "lagoon", "lantern", "lemon", "lentil", "lily", "lion", "lizard",
    "llama", "lotus", "magnet", "mango", "maple", "marble", "meadow", "melon", "mint", "mirror",
    "mitten", "monkey", "moose", "motor", "muffin", "napkin", "nectar", "needle", "noodle",
    "nutmeg", "oasis", "ocean", "olive", "onion", "orange", "orbit", "otter", "owl", "paddle",
    "panda", "papaya", "parrot", "pasta", "peach", "peanut", "pebble", "pencil", "pepper", "piano",
    "pickle", "pillow", "pilot", "pine", "pirate", "planet", "plum", "pocket", "poppy", "potato",
    "prism", "pumpkin", "puzzle", "quartz", "quill", "rabbit", "radar", "radish", "raven",
    "ribbon", "river", "robin", "rocket", "rose", "ruby", "saddle", "salmon", "sandal", "satin",
    "scarf", "shadow", "shark", "shell", "silver", "sketch", "sled", "snail", "sofa", "spider",
    "spoon", "squid", "star", "stone", "sugar", "summer", "sunset", "swan", "table", "tango",
    "teapot", "tiger", "toast", "tomato", "topaz", "tulip", "tunnel", "turtle", "valley", "velvet",
    "violin", "wagon", "walnut", "walrus", "whale", "willow", "window", "wizard",
];

/// The byte a word stands for, if it is in the list.
pub fn index_of(word: &str) -> Option<u8> {
    WORDS
        .binary_search(&word)
        .ok()
        .and_then(|i| u8::try_from(i).ok())
}

/// Words of the list that start with `prefix` (for completion as the user types).
pub fn completions(prefix: &str) -> impl Iterator<Item = &'static str> + '_ {
    WORDS.iter().copied().filter(move |w| w.starts_with(prefix))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_is_sorted_unique_and_lowercase() {
        assert!(WORDS.windows(2).all(|w| w[0] < w[1]));
        assert!(WORDS
            .iter()
            .all(|w| w.chars().all(|c| c.is_ascii_lowercase())));
        assert_eq!(index_of("acid"), Some(0));
        assert_eq!(index_of("wizard"), Some(255));
        assert_eq!(index_of("zzz"), None);
        assert_eq!(
            completions("bu").collect::<Vec<_>>(),
            ["bucket", "bunny", "butter"]
        );
    }
}
