"""DEMO DKIM keys: fixed RSA key pairs the simulated domains sign with. THEY PROTECT NOTHING.

These private keys are published in this source file on purpose, so that every run signs the same way
(byte-identical journeys for a seed) without generating keys, and so that the simulator needs no compiled
cryptography package (dkimpy signs and verifies them in pure Python, also in the browser). Never use them
for a real domain: anybody can sign as any domain that publishes one of these public keys.

They are 1024-bit keys, the minimum RFC 8301 §3.2 allows (verifiers MUST accept 1024 to 4096 bits; it
recommends 2048 for signers): pure-Python RSA signs a 1024-bit key several times faster than a 2048-bit
one, and a 1024-bit key fits in one 255-byte TXT string. Real domains should publish 2048-bit keys.

The example domains of the lessons each have their own pair; any other domain gets one of the pairs chosen
by a stable hash of its name (:func:`demo_key`).

>>> key = demo_key("example.org")
>>> key.private_pem.startswith(b"-----BEGIN RSA PRIVATE KEY-----"), len(key.public_b64)
(True, 216)
>>> demo_key("anything.example") in DEMO_KEYS.values()
True
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass


@dataclass(frozen=True)
class DemoKey:
    """One demo key pair: the PEM private key (PKCS#1) and the base64 public key for the ``p=`` tag."""

    private_pem: bytes
    public_b64: str


#: The demo key pairs by domain (``pool`` serves every other domain). DEMO KEYS: THEY PROTECT NOTHING.
DEMO_KEYS: dict[str, DemoKey] = {
    "example.org": DemoKey(
        b"""-----BEGIN RSA PRIVATE KEY-----
MIICXQIBAAKBgQCiZvPqzsQ+dkpLJbYFx0Qtbtc5EZPrGKiapuuRI3IhMH9pc+nu
PEBdl8KGNf2pjFat4F121+SGTsGCbJ9rVIpBT2qrAQF9lPAZzZE0EIxlJNQxHwy7
Xj5Jos5jGFkOkGp97NumCUnkwZqDngXzvcNHm5Je47zjAIv1N8RqDVfYdwIDAQAB
AoGBAJgPE6Wwkhj2AxwXpDYG3PQ5SzV5GunOfdfIINsVuEARO8tOKCPTsGSxuwaV
OPxulZ5abMjg3m1PAmsPL7l8P7HnR5RJBbnhOQTSJ5h/pifJCIfoO+m9+dbR1qz9
hLitFrPc0gvDskFajlAn39018qAu2DOmmYa/0guv/bgiRjfRAkEAzJxLBkwhae6e
eo19k9y6DiUSTlzrjoyWfReJVZm5hETdKQcCSORITDynRRxnKlw9spr/iLOn06eS
84Oi1ik3/wJBAMsw0Rf1IcyZs5Tg7uX9jkfoLOrLlHqkud6dYLQ8DNqFTWENlFRB
1B/2A97+JTnpb1bfjqc487apVj9KfFR/H4kCQHOfVl4Go1MjPnbugaoOryzTEhcq
Nwpks52YsUioB8eQypEmnsnmBlzeYX+SX1H2sf69y+zJ6OqX5ViqaFgxDq0CQQCT
lDFKJVEXOculJnpdsXvV3lxBbPu62Enn1oaWYcc0L/2zsBk72VQoopbNL+n51gJ4
JoeGDWd2FCgAcCk9ddeBAkBwrGdp7vRo4F+y1fUfykewPiqBhL0LIojoStEBJF8P
wf1ic6FwasjVE/Z0YOT9jDRrsbd5Do3aBtKkG+wfR2hV
-----END RSA PRIVATE KEY-----
""",
        "MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQCiZvPqzsQ+dkpLJbYFx0Qtbtc5EZPrGKiapuuRI3IhMH9pc+nuPEBdl8KGNf2pjFat4F121+SGTsGCbJ9rVIpBT2qrAQF9lPAZzZE0EIxlJNQxHwy7Xj5Jos5jGFkOkGp97NumCUnkwZqDngXzvcNHm5Je47zjAIv1N8RqDVfYdwIDAQAB",
    ),
    "example.net": DemoKey(
        b"""-----BEGIN RSA PRIVATE KEY-----
MIICXgIBAAKBgQCtL506MMrJ27VMdxJu8p+QJ+tCZ6W/8qW69Hsmwu5Lz/871hI1
OJvIjmSu9abVn7CEyOlREn7zWpR1su5vlm9CjGEZink+vgdcc4Oqe8amq/WffZWG
2K3CwkDqgY4qqn5sTMF0qgX9UlW1IB8Ip5MPRuAoWU7piO+EblibiBtxJwIDAQAB
AoGBAKPQE+JE4KwK+/Q19OOo7zEF8UvAilGDjSvHsO07GPfw6DWLCXH597C+r5Gm
noYWJHuVJsweuKIrHZ4u/8Xg/57enwZuJYe1PPa9KULHGbz2RnrXhX9wqweKLBf/
EnKRSMk5sl5gSPK1SLTWk0eMIkWcLo403MIZa3HBnRaLVf/hAkEA04aMQVUVTtv5
So4eo6OYAoVFapBZS70UWq55BY1IG7eswSajG5L3cnv5F7W4jCkhYirf2tb+PBH1
U3nCK87g2QJBANGZbBYbSrdpYemNQU9b9LxOPoM/XIVjnkCjheWU3KDqqo5jzWyO
N4/eczqvkzmxh/Ie5xoDf7zGH0sLSLIJof8CQQDM2quOwkXmn6dpCwalWFRpbIRz
1eSFM1M5F2vhcph5L4NBdJfWppi66VGuIrHeHB9WoUs296w0pPfAplTkdHDRAkA2
popIOVWB/ThKbUpaJt/pOX2TOzIklZTtxbVj5yyfyJAwEFW/uFVEbfwdkSoSIPgR
aX1YixEDZ6VBK/AIe/qBAkEAicuNoYJv/UQTDJ+QujfyObbVUcE19VWTgnAYir/E
ANpIUtL+iS9md+iKWvVgmMJ22xQQohEtglUSHeeTHBa8cg==
-----END RSA PRIVATE KEY-----
""",
        "MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQCtL506MMrJ27VMdxJu8p+QJ+tCZ6W/8qW69Hsmwu5Lz/871hI1OJvIjmSu9abVn7CEyOlREn7zWpR1su5vlm9CjGEZink+vgdcc4Oqe8amq/WffZWG2K3CwkDqgY4qqn5sTMF0qgX9UlW1IB8Ip5MPRuAoWU7piO+EblibiBtxJwIDAQAB",
    ),
    "alumni.university.example": DemoKey(
        b"""-----BEGIN RSA PRIVATE KEY-----
MIICXQIBAAKBgQDk8Wfjyl62f7DwkQOLqs1TTcnAhN8DYAcA0v8jiu9XUAS8NBVW
YLesyIxDGOh2AACHFytx/t5FMLGdjty7BnyW6Pk53rCkg9rPWpFaTeduuTQuEPH4
Qm/U58KgrDD7Pn6QOTBrwUHrXA6LeXpoMMO8XWUW+jdWxGJDY3xe67F+xwIDAQAB
AoGABrppeTJLUkWyZ397gTFF03rnwPamryy1R/rrcJn2qrQ5T2agcedpvnQuWxJy
UnVxjobJyhHZamMh9SVrqztnkeGL8V9EUjCVFl33wZZd4TRQr3GVWbfKYfMQCAut
dref8TxT+gZDcTS/qbGwKiNkU2j1UckLMKLka83LYZsGKEECQQD9+hA9z6dLB4FL
asyoMUagN2YGXyQBgr/ZkNaJ0ITeOYEnc0QX5OdKKUK5lkZYNgtnIIRnp7wdAxt9
mPWgykYRAkEA5sRKbmkrW3rr01I1o6fbxtvZjP5R16RHGzkV76rYDxolGQVqWr8u
C+6HkrfCvFAtM9hHSuvkR4e8eLzx4N2/VwJBAJCobbfHHrJNhAdAvXDPIDsBUssu
RYPWxQ9Wv9ufOQ6aEkY2EQLLDjHfbnHmdgqoPbZvfvrLPwoHSxEunjkG/QECQQCa
cSJzVHWNCu5LhsiZV90x8K9fulFh5fMk2AbDWO6y5MeRQFuWkj6qA6C+Y7ezumEW
QpgsH0WvTbuofqPO3/mPAkB2RFYsyZeCZ9wcerM3Xbmzkw3dawFbJjFsYpQkxfDv
iviYLN/vgXrYDKB5zFgPZgIYt4lZui+sLbT+rBV/fByu
-----END RSA PRIVATE KEY-----
""",
        "MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDk8Wfjyl62f7DwkQOLqs1TTcnAhN8DYAcA0v8jiu9XUAS8NBVWYLesyIxDGOh2AACHFytx/t5FMLGdjty7BnyW6Pk53rCkg9rPWpFaTeduuTQuEPH4Qm/U58KgrDD7Pn6QOTBrwUHrXA6LeXpoMMO8XWUW+jdWxGJDY3xe67F+xwIDAQAB",
    ),
    "lists.example.com": DemoKey(
        b"""-----BEGIN RSA PRIVATE KEY-----
MIICXQIBAAKBgQDMfrU9orrPF1pfyneK4OBxnSucgFuoVNAFMZ1AHrHy9PQhL1Gi
iwvwVBgGJ/leoSmmM76aaqyjNJiUs4ELV9lUQ3kJtrCR1tOEus10MtoJ2eqzAX1e
N+/CfWcZ2gWsp1a0rUD2nK9Av68EujaUpVGOUcF0FafOKdKcQAVuT2AN9QIDAQAB
AoGBAL4yn6nLIAsbgmAT9WnDTJ3/fB+ctyNyduRNyB9qLUJ3GFWBKGGRCDKoVIvt
RCACr7U47W+8BgPqGHw+FKkTNTtiXXa0/9sZwTkUi5k4R35Iu8HT7vhHohUcJddC
9KA69usg6ebbgtkbH70/Wth52xY6EH76bD47Uj3G3QYwCt4BAkEA+CEEAHgGmBP8
c4oUAdLphxNMhuybzYA9fM0jOAIBJULIoMNXE4N3dFpdm7CYTiQWN5BDfWhyT0l3
yEJIs96wgQJBANL7Wl2ZHkyaHekXjCORkRZ6K5x3nlDXJIxfIoNwq9mbCt85lTcS
/xK0hUF1A9NsNs+wQmb8pFTu6pCBF4iX43UCQQDtDf3YxNLn8BA8AirjIzFgjxuJ
u/uN9XrJBOMk2yVlB8zNalKCnhM94ieUWr7nyKpBI16XLXYoMbRyaoEy9woBAkBM
hoT5bB90U3ZD5JmdESCaEYgeAbk3w0FrdNpU6Jo8nKLt4rn/tvEz/KxU2LehiR+8
Z0c+iaalc986uMgrcEQ9AkAwaacHbi7ZqBlt/HYB5qPqX4oSMC77ozWzEMqy3ELM
/Ol+leZ2aQ0sVvrPgvO1q36yKzzRClouvc18oVEY0OVd
-----END RSA PRIVATE KEY-----
""",
        "MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDMfrU9orrPF1pfyneK4OBxnSucgFuoVNAFMZ1AHrHy9PQhL1GiiwvwVBgGJ/leoSmmM76aaqyjNJiUs4ELV9lUQ3kJtrCR1tOEus10MtoJ2eqzAX1eN+/CfWcZ2gWsp1a0rUD2nK9Av68EujaUpVGOUcF0FafOKdKcQAVuT2AN9QIDAQAB",
    ),
    "example.com": DemoKey(
        b"""-----BEGIN RSA PRIVATE KEY-----
MIICXgIBAAKBgQCk06U4YIcOm5YYwJcj26diplphRadsibQ0H/y1JPexhLtDA+sz
VVv+77uPFdh8rKz6cnF+3tPRyeNl+ASY0Uzutx9wcP2G7CpZXsPHIskJXaGcJlJH
s1NO+SpHwuItfY+B+kpyOXo+QU7SCFoRdYZlcHNysT+DiiptTUdEfbU2HwIDAQAB
AoGBAInEhWK7++cP0MNbpnjITf48wWpwh+JGryKqYdUe0xHDuanoCp1biYtq4cBV
KB/9TJABPDApG69MKg++4EjDGKNO9SkRY6b5sco8EmuW0MdbECOsUUDfpsuv4tXy
vzhtCys3n62d8DyqD57i8QbbpZLDAej9tcL/12iZ/RLPEGWBAkEA2MRd6wvwgwcz
p66pImOkaFhR6CCj3CfBU82Mq7mlLfx+icEP6ps+mWi5ZmxCr2cdZaEwrsYGBppa
ispOXC9HIQJBAMKosC7KZQZwz3Q7Id2H3ViNRnu/apPiSWRtbM2v10Md6k/H/hfi
arG4kqJI1lndhk7c7pKIl2gNnh+j2Y6dFT8CQQDTRfFUGnr8+pP6J15qSjwAB7Ut
TkLnXUgs6fblmTfJroOWuDlPLKjC1TN/BJ2qYBJi78yHTDKrVN5S0AO4DcyBAkA8
c+jrTx3axzQWM7sLsoMSWiWWjtbJgJAsaTNOGZrvlB3Nkx2dS0q5UMnxLk+rbvmk
CkbpKRRkUz5VMyyAdtY/AkEAmB32j7kv/4A8cAhWADpKWHI+9es8AbjA5oYxah/L
heuJVCve0gkmJPA+yr4178NJBOz/xv3/Agsaf7yKiOULeA==
-----END RSA PRIVATE KEY-----
""",
        "MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQCk06U4YIcOm5YYwJcj26diplphRadsibQ0H/y1JPexhLtDA+szVVv+77uPFdh8rKz6cnF+3tPRyeNl+ASY0Uzutx9wcP2G7CpZXsPHIskJXaGcJlJHs1NO+SpHwuItfY+B+kpyOXo+QU7SCFoRdYZlcHNysT+DiiptTUdEfbU2HwIDAQAB",
    ),
    "pool": DemoKey(
        b"""-----BEGIN RSA PRIVATE KEY-----
MIICXgIBAAKBgQDgNqaC+vNkVFbRVEUHMJ3mMuijI0QmInrSTtlhhC/ndmV46wDJ
p99GrsucFsmZz0KKkT/aT300zzBusevQ2IKaB6Mmxlkflt+YHAhVyZuaSBRAO+6+
BzUQUg89BmB/bgaQ5Yv23d4USguN07MirIy+5ljILSOr9qJOKP+APYgQ3QIDAQAB
AoGBAJ/WVd4KCHj9puaTrKHzhp0UrcOe4HZPHj/O9ikOkxfuz2fkICuiAQnikkQz
+oQrvMQLx/lZsWh0S5KeQ/4eWvsd3MzjaGYpTaEeXM8oj5TgGK8WhG1ej3EMVKg6
8fgsa1jLHvUG83U4oum3hrugY9QsU5u1OnS3XAAUCIr09+YBAkEA8Z4gmpsdQLyp
wNfrWWK64SC5jF1il/xqxKVk7c//ipiBgGlb9kD8ifsR7BnHG6T7OxNwG0CKmW4T
kKWFAKQJzwJBAO2PT3Z/LyCMbh163Ltzc3sKlo8Fw2VraRUY5gmxLxB5QOTUZsuw
DPzziiNM+pAIFwsj/CRaIiSm8ySUBnkxYZMCQQCd+vlwfYmUAYew6r0cldyBROdt
asYDgGzDJS2n/P8mPO836ivSCM3W3k3qpTQ11BrclqoPd5ToGzw5sLAVKiyrAkEA
yLpfGnE9EPOX17EI8hsLaNv5e8AS6o9nqzvupCHi8riB7NjMQy/uyY2/GzTgQvOT
BQbS9qRyVSX8LNwm3CCtoQJAfP8B6LUiyZBVhXMTMKhkEwa/TfNoI8TdcOA5fU3X
+eb2hKMRouVwJr1hlRFwfA6AV2xC4hWmhI3y0ziKVgFZww==
-----END RSA PRIVATE KEY-----
""",
        "MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDgNqaC+vNkVFbRVEUHMJ3mMuijI0QmInrSTtlhhC/ndmV46wDJp99GrsucFsmZz0KKkT/aT300zzBusevQ2IKaB6Mmxlkflt+YHAhVyZuaSBRAO+6+BzUQUg89BmB/bgaQ5Yv23d4USguN07MirIy+5ljILSOr9qJOKP+APYgQ3QIDAQAB",
    ),
}


def demo_key(domain: str) -> DemoKey:
    """The demo key pair ``domain`` signs with (its own for the lessons' domains, else one of the pairs)."""
    found = DEMO_KEYS.get(domain.lower().rstrip("."))
    if found is not None:
        return found
    pairs = list(DEMO_KEYS.values())
    return pairs[zlib.crc32(domain.lower().encode("utf-8")) % len(pairs)]
