/// Image decoding and CLIP preprocessing (in progress).
