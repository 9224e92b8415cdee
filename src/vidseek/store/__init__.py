"""On-disk index layout: manifest, model files, partitioned Parquet datasets, lock."""
