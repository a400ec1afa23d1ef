public enum LoomCheckpoint {}
