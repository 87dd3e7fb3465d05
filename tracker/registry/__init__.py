"""The registry shell: loads filed data into frames, runs the pure estimation and regime
engines over them, and writes estimates, flags, history, discrepancies and alerts back."""
