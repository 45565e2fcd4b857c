"""Media helpers the vision services share: image decoding with pixel limits, base64
image fields, URL fields, and the SSRF-safe fetcher. Knows only ``common.core``."""
