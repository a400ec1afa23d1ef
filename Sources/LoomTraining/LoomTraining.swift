public enum LoomTraining {}
