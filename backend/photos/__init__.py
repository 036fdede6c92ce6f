"""Photos, the evidence of records, visits, problems, claims and products: uploads, storage, image
processing, duplicate flags, signed URLs (service.py is the interface other areas use) and the media
route that serves them (media.py, registered by the app factory)."""
