//! `toss-wire`: everything Toss parses from a stranger, kept apart from all I/O so that it
//! can be fuzzed on its own: the signaling protocol (`signal`), the transfer protocol's
//! control messages (`transfer`) and the sanitizing of received file names (`names`).
//!
//! The lowest layer: the server, the engine and the fuzz targets build on it.

pub mod names;
pub mod signal;
pub mod transfer;
