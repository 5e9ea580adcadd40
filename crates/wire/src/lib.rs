//! `toss-wire`: everything Toss parses from a stranger, kept apart from all I/O so that it
//! can be fuzzed on its own: the signaling protocol (`signal`), the transfer protocol's
//! control messages (`transfer`), the sanitizing of received file names (`names`) and the
//! cleaning of any text a stranger sends before it is shown (`text`).
//!
//! The lowest layer: the server, the engine and the fuzz targets build on it.

pub mod names;
pub mod signal;
pub mod text;
pub mod transfer;
