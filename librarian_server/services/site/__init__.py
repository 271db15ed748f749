"""The site as a whole: start-up work (first store, first admin) and housekeeping that spans
domains (staging clean-up, idle uploads)."""
