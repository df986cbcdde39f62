from recbole_ilora.cli import main

main()
