from nanoresearch_cli.main import entry

entry()
