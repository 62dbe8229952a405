//! The size change between two images (placeholder until written).
