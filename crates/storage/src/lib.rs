//! placeholder until storage lands
