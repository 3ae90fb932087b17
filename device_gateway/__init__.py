"""The Bluetooth LE gateway for Hideez Keys (to come): bleak's own classes with a backend
chosen by argument (BlueZ/WinRT/CoreBluetooth in production, bumble in the simulator)."""
