/// Audio decoding, resampling and Whisper log-mel features (in progress).
