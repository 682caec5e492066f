"""The pure ingest library: rasterise, OCR, barcodes, separators, extraction, dates, the filing rule."""
