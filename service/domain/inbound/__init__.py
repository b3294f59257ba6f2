"""Reading inbound mail: mime, text, classify, bounces, complaints, replies, the store, and what happens after classification."""
