from medcom_bridge.cli import main

main()
