"""A KVM guest small enough to run inside the VM nodes, and an OS definition
that installs it on an instance's disk.

The VM nodes have no KVM, so an instance's qemu runs in TCG inside a TCG VM:
a Linux guest takes minutes to boot there. This guest is one boot sector: the
BIOS (SeaBIOS) loads it from the instance's first disk (through DRBD when the
disk is drbd) and it prints, about once a second, on the serial port

    GANETI-TEST-TICK <boot id> <count>

both as four hex digits. The boot id is the low word of the TSC at boot: the
same id with a larger count after a migration shows the guest went on running
(registers and memory moved), a new id that it booted again.

The bytes below are GNU as output (as --32; ld -m elf_i386 -Ttext=0x7c00
--oformat binary) of this source, kept as bytes so the tests need no assembler:

    cli; xor ax,ax; mov ds,ax; mov ss,ax; mov sp,0x7c00; sti
    rdtsc; mov bp,ax                  ; the boot id
    mov dx,0x3f8; xor bx,bx           ; COM1; the count
  tick: inc bx
    mov si,msg; call puts
    mov di,bp; call hex; mov al,' '; out dx,al
    mov di,bx; call hex; mov al,10; out dx,al
    mov cx,18                         ; 18 timer interrupts (18.2 Hz): ~1 s
  pause: hlt; loop pause
    jmp tick
  puts: lodsb; test al,al; jz 1f; out dx,al; jmp puts; 1: ret
  hex: mov cx,4
  2: rol di,4; mov ax,di; and al,0xf; add al,'0'; cmp al,'9'; jbe 3f; add al,7
  3: out dx,al; loop 2b; ret
  msg: .asciz "GANETI-TEST-TICK "
    .org 510; .byte 0x55,0xaa
"""

import base64
import re

OS_NAME = "qa-ticker"
OS_DIR = "/srv/ganeti/os/" + OS_NAME
TICK = re.compile(r"GANETI-TEST-TICK ([0-9A-F]{4}) ([0-9A-F]{4})")

_CODE = bytes.fromhex(
    "fa31c08ed88ed0bc007cfb0f3189c5baf80331db43be527ce8180089efe81c00b020ee89df"
    "e81400b00aeeb91200f4e2fdebe1ac84c07403eeebf8c3b90400c1c70489f8240f04303c39"
    "76020407eee2eec347414e4554492d544553542d5449434b2000")
BOOT_SECTOR = _CODE + bytes(510 - len(_CODE)) + b"\x55\xaa"

# the OS definition (API 20, no parameters): create writes the boot sector, export/import
# move the first sector, rename and verify have nothing to do
_SCRIPTS = {
    "create": 'dd if="$(dirname "$0")/bootsector" of="$DISK_0_PATH" bs=512 count=1'
              ' conv=notrunc,fsync status=none',
    "export": 'dd if="$EXPORT_DEVICE" bs=512 count=1 status=none',
    "import": 'dd of="$IMPORT_DEVICE" bs=512 count=1 conv=notrunc,fsync status=none',
    "rename": "true",
    "verify": "true",
}


def install_os(vms, k):
    """Install the qa-ticker OS definition on node K."""
    script = ["set -e", "mkdir -p %s" % OS_DIR, "cd %s" % OS_DIR,
              "echo 20 > ganeti_api_version", ": > parameters.list",
              "echo %s | base64 -d > bootsector" % base64.b64encode(BOOT_SECTOR).decode()]
    for name, body in sorted(_SCRIPTS.items()):
        script.append("printf '#!/bin/sh\\nset -e\\n%%s\\n' '%s' > %s && chmod 755 %s"
                      % (body, name, name))
    vms.ssh(k, "\n".join(script))


def hvparams():
    """The -H kvm:... value booting the guest from its disk in TCG."""
    return ("kvm:kvm_flag=disabled,kernel_path=,initrd_path=,boot_order=disk,"
            "disk_type=paravirtual,serial_console=true,vnc_bind_address=")


def read_console(vms, k, instance, lines, timeout=60):
    """The instance's serial console on node K, read until it printed LINES tick
    lines (or TIMEOUT seconds passed)."""
    reader = ("import re, socket, time\n"
              "s = socket.socket(socket.AF_UNIX)\n"
              "s.connect('/var/run/ganeti/kvm-hypervisor/ctrl/%s.serial')\n"
              "end = time.time() + %d\n"
              "data = b''\n"
              "done = re.compile(rb'GANETI-TEST-TICK .{4} .{4}\\n')\n"
              "while len(done.findall(data)) < %d and time.time() < end:\n"
              "    s.settimeout(max(0.05, end - time.time()))\n"
              "    try:\n"
              "        chunk = s.recv(4096)\n"
              "    except socket.timeout:\n"
              "        break\n"
              "    if not chunk:\n"
              "        break\n"
              "    data += chunk\n"
              "print(data.decode('ascii', 'replace'))\n" % (instance, timeout, lines))
    return vms.ssh(k, "/usr/bin/python3 -", input_text=reader).stdout


def ticks(text):
    """[(boot id, count)] of the guest's tick lines in TEXT."""
    return [(m.group(1), int(m.group(2), 16)) for m in TICK.finditer(text)]
