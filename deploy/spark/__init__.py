"""Spark jobs that score DataFrames through modelchain services."""
