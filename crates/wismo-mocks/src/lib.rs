//! Local mock servers for the providers wismo talks to that cannot run on
//! a test machine. Each speaks the provider's documented request and
//! response shapes, authentication, errors and rate limits, for the calls
//! wismo makes (see each module). Tests and benchmarks only.

pub mod carriers;
mod form;
pub mod shopify;
pub mod smtp;
pub mod woocommerce;
