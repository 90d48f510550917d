"""Media: the job queue, workers and the media job; streaming stored objects."""
