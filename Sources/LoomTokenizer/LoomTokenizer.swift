/// Tokenization from Hugging Face tokenizer.json files (in progress).
