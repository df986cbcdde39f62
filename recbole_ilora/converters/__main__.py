from recbole_ilora.converters.cli import main

raise SystemExit(main())
