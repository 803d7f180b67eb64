def test_package_imports():
    import remote_file_source  # noqa: F401
