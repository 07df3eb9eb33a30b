//! Heartbeat's wire format: the message model, the classic and netstring codecs, and
//! authentication (crc / md5 / sha1). Pure: bytes in, values out.
