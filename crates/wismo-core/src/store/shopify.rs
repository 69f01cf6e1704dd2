//! Shopify Admin REST API order JSON (`{"orders": [...]}`) and its conversion to [`super::Order`].
