"""Study pipelines: each chains the package's steps for one chapter, with caching and claims."""
