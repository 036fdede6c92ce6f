"""Photos, the evidence of records, visits, problems, claims and products: uploads, storage, image
processing, duplicate flags and signed URLs (service.py is the interface other areas use)."""
