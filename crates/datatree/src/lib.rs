//! placeholder until the data tree lands
